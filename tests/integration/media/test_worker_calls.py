"""A real media worker answering, echoing, bridging and recording calls from test phones."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.media.conftest import WorkerProcess
from tests.support.audio import dominant_frequency, has_tone, wav_duration
from tests.support.phone import Phone

pytestmark = pytest.mark.integration


def answer_incoming(worker: WorkerProcess, phone: Phone, user: str) -> tuple[str, str]:
    """Phone calls `user` at the worker; the controller answers; return (call, leg)."""
    call = phone.call(worker.uri(user))
    new = worker.ctl.event("leg_new", request_user=user)
    worker.ctl.ok("answer", leg=new["leg"])
    worker.ctl.event("leg_answered", leg=new["leg"])
    phone.wait(call, "confirmed", 5)
    return call, new["leg"]


def test_hello_reports_the_probed_capacity(worker: WorkerProcess) -> None:
    hello = worker.hello
    assert hello["type"] == "hello"
    assert hello["worker"] == "w1"
    assert hello["pid"] == worker.proc.pid
    assert hello["sip"] == f"127.0.0.1:{worker.sip_port}"
    assert hello["capacity"] == 4  # the PyPI wheel's PJSUA_MAX_CALLS, measured not assumed
    assert hello["pjsip"] == "2.15.1"
    status = worker.ctl.ok("status")
    assert status == {"legs_in_use": 0, "capacity": 4, "legs": [], "players": [],
                      "recordings": []}
    assert worker.ctl.events("leg_new") == []  # the probe's own calls never leak out


def test_incoming_leg_is_reported_then_answered_and_echoed(
    worker: WorkerProcess, phone: Phone, tmp_path: Path
) -> None:
    call = phone.call(worker.uri("100"))
    new = worker.ctl.event("leg_new")
    assert new["direction"] == "in"
    assert new["request_user"] == "100"
    assert new["remote"] == f"127.0.0.1:{phone.port}"
    assert "phone@127.0.0.1" in new["from_uri"]
    assert "100@127.0.0.1" in new["to_uri"]
    assert new["call_id"]
    assert phone.state(call) in ("calling", "ringing")  # the worker did not answer by itself
    leg = new["leg"]

    worker.ctl.ok("answer", leg=leg)
    worker.ctl.event("leg_answered", leg=leg)
    phone.wait(call, "confirmed", 5)
    worker.ctl.ok("echo", leg=leg)
    heard = str(tmp_path / "heard.wav")
    phone.send_tone(call, 1000)
    phone.record_rx(call, heard)
    time.sleep(1.5)  # audio must flow for a while; nothing to await
    phone.hangup(call)
    phone.wait(call, "disconnected", 5)
    ended = worker.ctl.event("leg_ended", leg=leg)
    assert ended["code"] == 200
    assert ended["by"] == "remote"
    assert 1.0 < ended["duration_s"] < 5.0
    assert dominant_frequency(heard, 0.3) == 1000
    assert has_tone(heard, 1000, 0.3)
    assert worker.ctl.ok("status")["legs_in_use"] == 0


def test_two_callers_bridged_and_recorded_one_file_per_party(
    worker: WorkerProcess, phone: Phone, phone2: Phone, tmp_path: Path
) -> None:
    call_a, leg_a = answer_incoming(worker, phone, "201")
    call_b, leg_b = answer_incoming(worker, phone2, "202")
    phone.send_tone(call_a, 700)
    phone2.send_tone(call_b, 1300)
    worker.ctl.ok("bridge", a=leg_a, b=leg_b)
    rec = worker.ctl.ok("record", legs=[leg_a, leg_b], path_base=str(tmp_path / "rec"))
    heard_a, heard_b = str(tmp_path / "heard-a.wav"), str(tmp_path / "heard-b.wav")
    phone.record_rx(call_a, heard_a)
    phone2.record_rx(call_b, heard_b)
    time.sleep(2.0)  # let the bridged audio flow; there is no event to await

    phone.hangup(call_a)  # the recording stops by itself when one of its legs ends
    ended_a = worker.ctl.event("leg_ended", leg=leg_a)
    closed = worker.ctl.event("recording_closed", recording=rec["recording"])
    worker.ctl.ok("hangup", leg=leg_b)
    ended_b = worker.ctl.event("leg_ended", leg=leg_b)
    phone2.wait(call_b, "disconnected", 5)
    phone.wait(call_a, "disconnected", 5)

    assert (ended_a["by"], ended_b["by"]) == ("remote", "local")
    assert ended_a["code"] == ended_b["code"] == 200
    file_a, file_b = closed["files"]
    assert (file_a, file_b) == (str(tmp_path / "rec-0.wav"), str(tmp_path / "rec-1.wav"))
    assert closed["complete"] is True
    for path in (file_a, file_b):
        assert abs(wav_duration(path) - ended_a["duration_s"]) < 0.5
    assert abs(closed["duration_s"] - wav_duration(file_a)) < 0.05
    # each file holds only its own party
    assert has_tone(file_a, 700, 0.2, 1.8) and not has_tone(file_a, 1300, 0.2, 1.8)
    assert has_tone(file_b, 1300, 0.2, 1.8) and not has_tone(file_b, 700, 0.2, 1.8)
    # and each caller heard the other through the bridge
    assert dominant_frequency(heard_a, 0.3, 1.8) == 1300
    assert dominant_frequency(heard_b, 0.3, 1.8) == 700
    assert worker.ctl.ok("status")["legs_in_use"] == 0
