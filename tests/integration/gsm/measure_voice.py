"""One-off measurement (not a test): PCM frame timing into pjsua2 and the gateway's added delay.

`python -m tests.integration.gsm.measure_voice [seconds]` — the simulated modem sends silence
with a 20 ms 1 kHz burst once a second; the gateway carries it to a SIPp UAS that echoes
RTP (`-rtp_echo`); the simulator times when the burst comes back on its PCM port. Round
trip = modem -> gateway -> RTP -> echo -> gateway -> modem, so the gateway's added one-way
delay is about half of it (SIPp's echo and loopback cost well under a millisecond).
"""

from __future__ import annotations

import asyncio
import math
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from firmware_bridge.calls import CallState
from firmware_bridge.health import ModemState
from firmware_bridge.modem import Modem
from firmware_bridge.profiles import get_profile
from firmware_bridge.simulator import ModemSimulator
from firmware_bridge.voice import GatewayConfig, VoiceGateway
from tests.support.net import free_port
from tests.support.sipp import sipp

BURST = struct.pack("<160h", *(int(12000 * math.sin(2 * math.pi * 1000 * i / 8000))
                               for i in range(160)))
SILENCE = bytes(320)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def main(seconds: float) -> None:
    sent: list[float] = []
    back: list[float] = []
    count = [0]

    def source() -> bytes:
        count[0] += 1
        if count[0] % 50 == 0:
            sent.append(time.monotonic())
            return BURST
        return SILENCE

    def received(data: bytes) -> None:
        samples = struct.unpack(f"<{len(data) // 2}h", data[: len(data) // 2 * 2])
        if samples and max(abs(x) for x in samples) > 3000 and (
                not back or time.monotonic() - back[-1] > 0.5):
            back.append(time.monotonic())

    work = Path(tempfile.mkdtemp(prefix="gsm-measure-"))
    uas_port = free_port()
    uas = sipp(["-sn", "uas", "-rtp_echo", "-i", "127.0.0.1", "-p", str(uas_port), "-m", "1"],
               work, "uas.log")
    sim = ModemSimulator("quectel", reset_seconds=0.2).start()
    modem = Modem(sim.port, get_profile("quectel"), command_timeout=1.0, probe_interval=30.0)
    gw = VoiceGateway(modem, sim.audio_port, GatewayConfig(
        sip_port=free_port(), did="100", inbound_uri=f"sip:{{did}}@127.0.0.1:{uas_port}"))
    try:
        await modem.start()
        while modem.state is not ModemState.READY:
            await asyncio.sleep(0.01)
        await gw.start()
        cpu0, wall0 = _cpu(), time.monotonic()
        await asyncio.sleep(3)
        idle = (_cpu() - cpu0) / (time.monotonic() - wall0) * 100
        print(f"CPU of this process, idle: {idle:.1f} %")
        sim.set_pcm_source(source)
        sim.on_pcm_received = received
        sim.incoming_call("0501234567")
        while not sim.pcm_flowing:
            await asyncio.sleep(0.01)
        cpu0, wall0 = _cpu(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu = (_cpu() - cpu0) / (time.monotonic() - wall0) * 100
        print(f"CPU of this process (gateway + modem + simulator) with a call up: {cpu:.1f} %")
        stats = gw.audio_stats()
        rtts = []
        for t in sent:
            later = [b for b in back if b > t]
            if later and later[0] - t < 0.5:
                rtts.append((later[0] - t) * 1000)
        print(f"frames into pjsua2: {stats}")
        if rtts:
            rtts.sort()
            print(f"round trip modem->gateway->RTP echo->gateway->modem: n={len(rtts)} "
                  f"median {rtts[len(rtts) // 2]:.1f} ms, min {rtts[0]:.1f}, max {rtts[-1]:.1f}")
        else:
            print(f"no echoed bursts ({len(sent)} sent, {len(back)} loud chunks back)")
        sim.set_pcm_source(None)
        sim.on_pcm_received = None
        sim.remote_hangup()
        while modem.calls.state is not CallState.IDLE:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        sim.power_cycle()
        await asyncio.sleep(0.05)
        while modem.state is not ModemState.READY:
            await asyncio.sleep(0.01)
        print(f"modem reset -> READY again: {time.monotonic() - started:.2f} s")
    finally:
        await gw.stop()
        await modem.stop()
        sim.stop()
        uas.terminate()
        try:
            uas.wait(5)
        except subprocess.TimeoutExpired:
            uas.kill()
            uas.wait(5)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0))
