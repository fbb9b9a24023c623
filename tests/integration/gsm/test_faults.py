"""Faults: a modem reset in the middle of a call, garbage on the AT and SIP ports."""

from __future__ import annotations

import asyncio
import os
import socket
import time

from firmware_bridge.calls import CallState
from firmware_bridge.health import AlarmCleared, AlarmRaised, ModemState, ModemStateChanged
from firmware_bridge.modem import Modem
from firmware_bridge.simulator import ModemSimulator
from firmware_bridge.voice import GatewayCallEnded, VoiceGateway
from tests.integration.gsm.support import Events, until
from tests.support.phone import Phone

CALLER = "+972501234567"


async def answered_inbound_call(sim: ModemSimulator, phone: Phone, gateway: VoiceGateway) -> str:
    """Ring the GSM line, let the phone answer, wait until modem audio reaches the bridge."""
    sim.incoming_call(CALLER)
    call = await asyncio.to_thread(phone.incoming, 10)
    await asyncio.to_thread(phone.answer, call)
    await asyncio.to_thread(phone.wait, call, "confirmed", 10)
    await until(lambda: gateway.audio_stats().get("pushed", 0) >= 10, "modem audio in the bridge")
    return call


async def test_modem_reset_mid_call_ends_sip_call_raises_and_clears_alarm_and_recovers(
        gateway: VoiceGateway, sim: ModemSimulator, modem: Modem, phone: Phone,
        modem_events: Events, gateway_events: Events) -> None:
    call = await answered_inbound_call(sim, phone, gateway)
    mark = len(modem_events.items)
    started = time.monotonic()
    sim.power_cycle()  # the USB modem drops off the bus and comes back
    await asyncio.to_thread(phone.wait, call, "disconnected", 10)  # a BYE, not silence
    ended = await gateway_events.wait_for(lambda e: isinstance(e, GatewayCallEnded))
    assert ended.cause == "modem lost" and ended.answered
    alarm = await modem_events.wait_for(
        lambda e: isinstance(e, AlarmRaised) and e.code == "modem_down", mark)
    await modem_events.wait_for(
        lambda e: isinstance(e, ModemStateChanged) and e.new is ModemState.READY, mark)
    await modem_events.wait_for(
        lambda e: isinstance(e, AlarmCleared) and e.code == alarm.code, mark)
    back_after = time.monotonic() - started
    assert back_after < 30.0, f"modem back after {back_after:.1f} s"
    # the gateway carries the next call on the re-enumerated ports, audio included
    again = await answered_inbound_call(sim, phone, gateway)
    await asyncio.to_thread(phone.hangup, again)
    await asyncio.to_thread(phone.wait, again, "disconnected", 10)
    await until(lambda: modem.calls.state is CallState.IDLE, "the second GSM call to end")


async def test_garbage_on_at_and_sip_ports_mid_call_leaves_the_call_up(
        gateway: VoiceGateway, sim: ModemSimulator, modem: Modem, phone: Phone,
        gateway_events: Events) -> None:
    call = await answered_inbound_call(sim, phone, gateway)
    sim.garbage()
    sim.garbage(b"\r\n+QIND: \"ccinfo\",9,x\r\n\xff\xfe\r\nRING?\r\n+CLIP: \r\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (os.urandom(200), b"INVITE nothing SIP/2.0\r\n\r\n",
                     b"SIP/2.0 200 OK\r\nVia: broken\r\n\r\n", b"\x00" * 1400):
            s.sendto(junk, ("127.0.0.1", gateway.config.sip_port))
    pushed = gateway.audio_stats()["pushed"]
    await until(lambda: gateway.audio_stats().get("pushed", 0) >= pushed + 50,
                "another second of modem audio")
    assert phone.state(call) == "confirmed"
    assert modem.state is ModemState.READY
    await asyncio.to_thread(phone.hangup, call)
    await asyncio.to_thread(phone.wait, call, "disconnected", 10)
    ended = await gateway_events.wait_for(lambda e: isinstance(e, GatewayCallEnded))
    assert ended.answered and ended.cause.startswith("sip")
    await until(lambda: modem.calls.state is CallState.IDLE, "the GSM call to end")
    assert sim.received_commands[-1] == "ATH"
