"""Many more recorded calls than one worker's 4 legs, all through the media layer."""

from __future__ import annotations

import json
import wave
from pathlib import Path

from tests.support.appliance import Appliance
from tests.support.audio import has_tone, wav_duration
from tests.support.net import free_port, free_ports
from tests.support.sipp import BENCH_SIPP, make_tone_alaw, sipp
from tests.support.sipreg import SipClient

SCENARIOS = Path(__file__).parent / "scenarios"
CALL_SECONDS = 6.0


def test_ten_simultaneous_recorded_calls_with_four_leg_workers(box: Appliance, tmp_path: Path) -> None:
    make_tone_alaw(tmp_path / "caller.alaw", 1000)
    make_tone_alaw(tmp_path / "agent.alaw", 440)
    agent_port = free_port()
    agent_media, caller_media = free_ports(2)
    agent = sipp(
        ["-sf", str(SCENARIOS / "agent_tone.xml"), "-i", "127.0.0.1", "-p", str(agent_port),
         "-mp", str(agent_media)],
        tmp_path, "agent.log",
    )
    try:
        with SipClient() as reg:
            code = reg.register(
                "102", box.passwords["102"], ("127.0.0.1", box.sip_port),
                contact=f"sip:102@127.0.0.1:{agent_port}",
            )
        assert code == 200
        before = {r["call_id"] for r in box.query("SELECT call_id FROM cdrs")}
        callers = sipp(
            [f"127.0.0.1:{box.sip_port}", "-sf", str(BENCH_SIPP / "caller_alaw_stream.xml"),
             "-s", "600", "-d", str(int(CALL_SECONDS * 1000)), "-i", "127.0.0.1",
             "-p", str(box.trunk_port), "-mp", str(caller_media),
             "-l", "10", "-r", "10", "-m", "10", "-timeout", "60s"],
            tmp_path, "callers.log",
        )
        assert callers.wait(90) == 0, (tmp_path / "callers.log").read_text(errors="replace")[-3000:]
    finally:
        agent.terminate()
        agent.wait(10)

    rows = box.wait_rows(
        "SELECT c.*, r.path, r.duration_s AS rec_s, r.channels, r.parties, r.sha256, r.size_bytes"
        " FROM cdrs c JOIN recordings r ON r.id = c.recording_id WHERE c.callee = '600'",
        n=len(before & set()) + 10, timeout=30,
    )
    rows = [r for r in rows if r["call_id"] not in before]
    assert len(rows) == 10
    assert len({r["worker"] for r in rows}) >= 5  # 2 legs a call, 4 legs a worker
    for r in rows:
        assert r["sip_code"] == 200 and r["answered_by"] == "102" and r["cause"] == "normal"
        path = box.data_dir / r["path"]
        assert path.stat().st_size == r["size_bytes"]
        with wave.open(str(path)) as w:
            assert w.getnchannels() == 2 and w.getframerate() == 8000
        assert json.loads(r["parties"])[1] == "102"
        assert abs(wav_duration(str(path)) - CALL_SECONDS) <= 0.5, r["rec_s"]
        assert abs(r["rec_s"] - r["duration_s"]) <= 0.5
        # the caller's 1 kHz on the left, the agent's 440 Hz on the right, for the whole call
        for start in (0.5, CALL_SECONDS - 1.5):
            assert has_tone(str(path), 1000, start_s=start, end_s=start + 1.0, channel=0)
            assert has_tone(str(path), 440, start_s=start, end_s=start + 1.0, channel=1)
            assert not has_tone(str(path), 440, start_s=start, end_s=start + 1.0, channel=0)
