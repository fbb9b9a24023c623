"""Outbound over GSM: an INVITE to the gateway becomes ATD; refusals for what cannot be dialled."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from firmware_bridge.calls import CallState
from firmware_bridge.modem import Modem
from firmware_bridge.simulator import ModemSimulator
from firmware_bridge.voice import GatewayCallEnded, VoiceGateway
from tests.integration.gsm.support import Events, pcm_wav, until
from tests.support.audio import has_tone
from tests.support.phone import Phone

NUMBER = "+4915112345678"


def gw_uri(gateway: VoiceGateway, user: str) -> str:
    return f"sip:{user}@127.0.0.1:{gateway.config.sip_port}"


@pytest.mark.parametrize("profile", ["quectel", "simcom", "huawei"])
async def test_outbound_invite_dials_gsm_rings_answers_and_carries_audio(
        gateway: VoiceGateway, sim: ModemSimulator, modem: Modem, phone: Phone,
        gateway_events: Events, tmp_path: Path) -> None:
    call = await asyncio.to_thread(phone.call, gw_uri(gateway, NUMBER))
    await asyncio.to_thread(phone.wait, call, "ringing", 10)  # 180 once the far end alerts
    assert f"ATD{NUMBER};" in sim.received_commands
    sim.remote_answer()
    await asyncio.to_thread(phone.wait, call, "confirmed", 10)
    heard = str(tmp_path / "phone-heard.wav")
    await asyncio.to_thread(phone.record_rx, call, heard)
    await asyncio.to_thread(phone.send_tone, call, 440)
    await until(lambda: sim.pcm_flowing, "PCM on the modem")
    await until(lambda: len(sim.pcm_received) >= 8000 * 2 * 2, "2 s of audio at the modem")
    sim.remote_hangup()  # the GSM far end hangs up: the SIP caller gets a BYE
    await asyncio.to_thread(phone.wait, call, "disconnected", 10)
    ended = await gateway_events.wait_for(lambda e: isinstance(e, GatewayCallEnded))
    assert ended.answered and ended.number == NUMBER and ended.cause == "gsm hangup"
    assert has_tone(heard, 1000, start_s=0.5), "caller did not hear the GSM side's 1 kHz"
    assert has_tone(pcm_wav(sim, tmp_path / "modem-heard.wav"), 440), \
        "the GSM side did not receive the caller's 440 Hz"


async def test_sip_caller_hanging_up_while_gsm_rings_sends_hangup_to_modem(
        gateway: VoiceGateway, sim: ModemSimulator, modem: Modem, phone: Phone,
        gateway_events: Events) -> None:
    call = await asyncio.to_thread(phone.call, gw_uri(gateway, "0301234567"))
    await asyncio.to_thread(phone.wait, call, "ringing", 10)
    await asyncio.to_thread(phone.hangup, call)  # CANCEL
    await asyncio.to_thread(phone.wait, call, "disconnected", 10)
    ended = await gateway_events.wait_for(lambda e: isinstance(e, GatewayCallEnded))
    assert not ended.answered
    await until(lambda: modem.calls.state is CallState.IDLE, "the GSM call to end")
    assert "ATH" in sim.received_commands


async def test_invite_refused_when_number_not_dialable_or_line_busy(
        gateway: VoiceGateway, sim: ModemSimulator, modem: Modem, phone: Phone) -> None:
    bad = await asyncio.to_thread(phone.call, gw_uri(gateway, "alice"))
    await asyncio.to_thread(phone.wait, bad, "disconnected", 10)
    assert phone.last_status(bad) == 484
    first = await asyncio.to_thread(phone.call, gw_uri(gateway, NUMBER))
    await asyncio.to_thread(phone.wait, first, "ringing", 10)
    second = await asyncio.to_thread(phone.call, gw_uri(gateway, "+4915199999"))
    await asyncio.to_thread(phone.wait, second, "disconnected", 10)
    assert phone.last_status(second) == 486
    assert [c for c in sim.received_commands if c.startswith("ATD")] == [f"ATD{NUMBER};"]
    await asyncio.to_thread(phone.hangup, first)
    await asyncio.to_thread(phone.wait, first, "disconnected", 10)


async def test_invite_refused_503_while_modem_cannot_dial(
        gateway: VoiceGateway, sim: ModemSimulator, modem: Modem, phone: Phone,
        gateway_events: Events) -> None:
    sim.set_network(False)  # ATD answers +CME ERROR: 30 (no network service)
    call = await asyncio.to_thread(phone.call, gw_uri(gateway, NUMBER))
    await asyncio.to_thread(phone.wait, call, "disconnected", 10)
    assert phone.last_status(call) == 503
    ended = await gateway_events.wait_for(lambda e: isinstance(e, GatewayCallEnded))
    assert ended.cause.startswith("modem:")
    assert modem.calls.state is CallState.IDLE


async def test_dtmf_from_the_sip_caller_reaches_the_gsm_call(
        gateway: VoiceGateway, sim: ModemSimulator, modem: Modem, phone: Phone) -> None:
    call = await asyncio.to_thread(phone.call, gw_uri(gateway, NUMBER))
    await asyncio.to_thread(phone.wait, call, "ringing", 10)
    sim.remote_answer()
    await asyncio.to_thread(phone.wait, call, "confirmed", 10)
    await until(lambda: sim.pcm_flowing, "the GSM call up")
    await asyncio.to_thread(phone.send_dtmf, call, "12#", "rfc2833")
    await until(lambda: sim.dtmf_sent == ["1", "2", "#"],
                lambda: f"RFC 2833 digits; the modem got {sim.received_commands[-6:]}")
    await asyncio.to_thread(phone.send_dtmf, call, "9", "info")
    await until(lambda: sim.dtmf_sent == ["1", "2", "#", "9"], "SIP INFO digit sent")
    await asyncio.to_thread(phone.hangup, call)
    await asyncio.to_thread(phone.wait, call, "disconnected", 10)
