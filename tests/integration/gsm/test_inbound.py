"""Inbound GSM calls: the gateway INVITEs the SIP side with the caller's number; audio both ways."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from firmware_bridge.calls import CallState
from firmware_bridge.modem import Modem
from firmware_bridge.simulator import ModemSimulator
from firmware_bridge.voice import GatewayCallEnded, VoiceGateway
from tests.integration.gsm.conftest import DID
from tests.integration.gsm.support import Events, pcm_wav, until
from tests.support.audio import has_tone
from tests.support.phone import Phone

CALLER = "+972501234567"


@pytest.mark.parametrize("profile", ["quectel", "simcom", "huawei"])
async def test_inbound_call_reaches_phone_with_caller_id_and_audio_both_ways(
        gateway: VoiceGateway, sim: ModemSimulator, modem: Modem, phone: Phone,
        gateway_events: Events, tmp_path: Path) -> None:
    sim.incoming_call(CALLER)
    call = await asyncio.to_thread(phone.incoming, 10)
    info = phone.info(call)
    assert f"sip:{CALLER}@" in info.from_uri
    assert f"sip:{DID}@" in info.to_uri
    heard = str(tmp_path / "phone-heard.wav")
    await asyncio.to_thread(phone.answer, call)
    await asyncio.to_thread(phone.wait, call, "confirmed", 10)
    await asyncio.to_thread(phone.record_rx, call, heard)
    await asyncio.to_thread(phone.send_tone, call, 440)
    assert "ATA" in sim.received_commands
    await until(lambda: sim.pcm_flowing, "PCM on the modem")
    await until(lambda: len(sim.pcm_received) >= 8000 * 2 * 2, "2 s of audio at the modem")
    await asyncio.to_thread(phone.hangup, call)
    await asyncio.to_thread(phone.wait, call, "disconnected", 10)
    ended = await gateway_events.wait_for(lambda e: isinstance(e, GatewayCallEnded))
    assert ended.answered and ended.number == CALLER
    await until(lambda: modem.calls.state is CallState.IDLE, "the GSM call to end")
    assert modem.profile.hangup in sim.received_commands
    assert has_tone(heard, 1000, start_s=0.5), "phone did not hear the modem's 1 kHz tone"
    assert has_tone(pcm_wav(sim, tmp_path / "modem-heard.wav"), 440), \
        "modem did not receive the phone's 440 Hz tone"


async def test_gsm_caller_giving_up_cancels_the_ringing_phone(
        gateway: VoiceGateway, sim: ModemSimulator, phone: Phone,
        gateway_events: Events) -> None:
    sim.incoming_call(CALLER)
    call = await asyncio.to_thread(phone.incoming, 10)
    sim.remote_hangup()
    await asyncio.to_thread(phone.wait, call, "disconnected", 10)
    ended = await gateway_events.wait_for(lambda e: isinstance(e, GatewayCallEnded))
    assert not ended.answered and ended.cause == "gsm hangup"
    assert "ATA" not in sim.received_commands


async def test_sip_side_rejecting_hangs_up_the_gsm_call(
        gateway: VoiceGateway, sim: ModemSimulator, modem: Modem, phone: Phone,
        gateway_events: Events) -> None:
    sim.incoming_call(CALLER)
    call = await asyncio.to_thread(phone.incoming, 10)
    await asyncio.to_thread(phone.hangup, call, 486)
    ended = await gateway_events.wait_for(lambda e: isinstance(e, GatewayCallEnded))
    assert ended.cause.startswith("sip 486")
    await until(lambda: modem.calls.state is CallState.IDLE, "the GSM call to end")
    assert "ATH" in sim.received_commands and "ATA" not in sim.received_commands
