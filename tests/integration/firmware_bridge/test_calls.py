"""Voice calls through the simulator: call states per profile and PCM audio on the 2nd pty."""

from __future__ import annotations

import asyncio
import math
import struct

from firmware_bridge.calls import CallState, CallStateChanged
from firmware_bridge.modem import Modem
from firmware_bridge.pcm import FRAME_BYTES, PcmPort
from firmware_bridge.simulator import ModemSimulator
from tests.integration.firmware_bridge.support import WAIT, Recorder


def goertzel_power(frame: bytes, freq: float, rate: int = 8000) -> float:
    """Relative power of `freq` in a 16-bit PCM frame."""
    samples = struct.unpack(f"<{len(frame) // 2}h", frame)
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / len(samples)


def call_states(rec: Recorder) -> list[CallState]:
    return [e.new for e in rec.events if isinstance(e, CallStateChanged)]


async def wait_call(rec: Recorder, state: CallState) -> CallStateChanged:
    event: CallStateChanged = await rec.wait_for(
        lambda e: isinstance(e, CallStateChanged) and e.new is state)
    return event


async def test_incoming_call_answered_and_hung_up_by_network(
        modem: Modem, sim: ModemSimulator, rec: Recorder) -> None:
    sim.incoming_call("+972501234567")
    ringing = await wait_call(rec, CallState.RINGING)
    assert not ringing.outgoing
    await modem.answer()
    active = await wait_call(rec, CallState.ACTIVE)
    assert active.number == "+972501234567"  # from +CLIP (or the profile's call URC)
    sim.remote_hangup()
    ended = await wait_call(rec, CallState.ENDED)
    assert ended.number == "+972501234567"
    await wait_call(rec, CallState.IDLE)
    assert call_states(rec) == [CallState.RINGING, CallState.ACTIVE, CallState.ENDED,
                                CallState.IDLE]


async def test_outgoing_call_answered_then_hung_up_locally(
        modem: Modem, sim: ModemSimulator, rec: Recorder) -> None:
    await modem.dial("+4915112345")
    await wait_call(rec, CallState.ALERTING)
    sim.remote_answer()
    active = await wait_call(rec, CallState.ACTIVE)
    assert active.outgoing and active.number == "+4915112345"
    await modem.hangup()
    await wait_call(rec, CallState.IDLE)
    assert call_states(rec) == [CallState.DIALING, CallState.ALERTING, CallState.ACTIVE,
                                CallState.ENDED, CallState.IDLE]
    assert modem.profile.hangup in sim.received_commands


async def test_pcm_frames_flow_both_ways_during_a_call(
        modem: Modem, sim: ModemSimulator, rec: Recorder) -> None:
    frames: asyncio.Queue[bytes] = asyncio.Queue()
    pcm = PcmPort(sim.audio_port, frames.put_nowait)
    pcm.open()
    try:
        sim.incoming_call("+972501234567")
        await wait_call(rec, CallState.RINGING)
        await modem.answer()  # the modem manager switches voice to PCM when the call is up
        got = [await asyncio.wait_for(frames.get(), WAIT) for _ in range(10)]
        assert all(len(f) == FRAME_BYTES for f in got)
        assert modem.profile.pcm_on[0] in sim.received_commands
        # the simulator's far end sends a 1 kHz tone
        frame = got[-1]
        assert goertzel_power(frame, 1000) > 100 * goertzel_power(frame, 1400)
        # and hears what we send
        ours = bytes(range(256)) + bytes(64)
        for _ in range(5):
            pcm.write_frame(ours)
        while len(sim.pcm_received) < 5 * FRAME_BYTES:
            await asyncio.wait_for(frames.get(), WAIT)  # 20 ms pacing from the far end
        assert bytes(sim.pcm_received[:FRAME_BYTES]) == ours
        sim.remote_hangup()
        await wait_call(rec, CallState.IDLE)
        assert not sim.pcm_flowing
    finally:
        pcm.close()
