"""Worker commands beyond answer/echo: dial, reject, DTMF, play, tone, capacity."""

from __future__ import annotations

import math
import struct
import time
import wave
from pathlib import Path

import pytest

from tests.integration.media.conftest import WorkerProcess
from tests.integration.media.test_worker_calls import answer_incoming
from tests.support.audio import dominant_frequency, has_tone
from tests.support.phone import Phone, PhoneError

pytestmark = pytest.mark.integration


def write_sine(path: Path, freq: int, seconds: float, rate: int = 8000) -> None:
    """A 16-bit mono PCM WAV holding one sine tone."""
    n = int(seconds * rate)
    frames = struct.pack(
        f"<{n}h", *(int(8000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def test_dial_reports_ringing_answered_then_local_hangup(
    worker: WorkerProcess, phone: Phone
) -> None:
    leg = worker.ctl.ok("dial", uri=phone.uri, headers={"X-Queue": "sales"})["leg"]
    inc = phone.incoming(5)
    phone.answer(inc, 180)
    worker.ctl.event("leg_ringing", leg=leg)
    phone.answer(inc, 200)
    worker.ctl.event("leg_answered", leg=leg)
    phone.wait(inc, "confirmed", 5)
    assert worker.ctl.ok("status")["legs"] == [
        {"leg": leg, "direction": "out", "state": "confirmed"}
    ]
    worker.ctl.ok("hangup", leg=leg)
    ended = worker.ctl.event("leg_ended", leg=leg)
    phone.wait(inc, "disconnected", 5)
    assert ended["by"] == "local"
    assert ended["code"] == 200
    assert ended["duration_s"] >= 0.0


def test_dial_busy_and_dial_timeout_give_the_sip_cause(
    worker: WorkerProcess, phone: Phone
) -> None:
    busy = worker.ctl.ok("dial", uri=phone.uri)["leg"]
    phone.hangup(phone.incoming(5), 486)
    ended = worker.ctl.event("leg_ended", leg=busy)
    assert (ended["code"], ended["by"], ended["duration_s"]) == (486, "remote", 0.0)

    slow = worker.ctl.ok("dial", uri=phone.uri, timeout_s=0.5)["leg"]
    inc = phone.incoming(5)
    phone.answer(inc, 180)
    ended = worker.ctl.event("leg_ended", leg=slow)
    assert (ended["code"], ended["by"]) == (408, "local")
    phone.wait(inc, "disconnected", 5)
    assert phone.last_status(inc) == 487  # the phone saw a CANCEL


def test_controller_rejects_an_incoming_leg_with_its_code(
    worker: WorkerProcess, phone: Phone
) -> None:
    call = phone.call(worker.uri("300"))
    leg = worker.ctl.event("leg_new")["leg"]
    worker.ctl.ok("answer", leg=leg, code=180)
    phone.wait(call, "ringing", 5)
    worker.ctl.ok("hangup", leg=leg, code=486)
    ended = worker.ctl.event("leg_ended", leg=leg)
    phone.wait(call, "disconnected", 5)
    assert phone.last_status(call) == 486
    assert (ended["code"], ended["by"]) == (486, "local")


def test_dtmf_from_the_caller_becomes_events(worker: WorkerProcess, phone: Phone) -> None:
    call, leg = answer_incoming(worker, phone, "400")
    phone.send_dtmf(call, "12#")
    worker.ctl.event("dtmf", digit="#")  # RFC 2833 digits are paced; INFO would overtake
    phone.send_dtmf(call, "9", method="info")
    worker.ctl.event("dtmf", digit="9")
    got = [(e["digit"], e["method"]) for e in worker.ctl.events("dtmf")]
    assert got == [("1", "rfc2833"), ("2", "rfc2833"), ("#", "rfc2833"), ("9", "info")]
    assert all(e["leg"] == leg for e in worker.ctl.events("dtmf"))
    phone.hangup(call)
    worker.ctl.event("leg_ended", leg=leg)


def test_play_a_file_then_a_tone_the_caller_hears_both(
    worker: WorkerProcess, phone: Phone, tmp_path: Path
) -> None:
    prompt = tmp_path / "prompt.wav"
    write_sine(prompt, 500, 1.0)
    call, leg = answer_incoming(worker, phone, "500")
    heard = str(tmp_path / "heard.wav")
    phone.record_rx(call, heard)
    t0 = time.monotonic()
    player = worker.ctl.ok("play", leg=leg, file=str(prompt))["player"]
    done = worker.ctl.event("playback_done", player=player, timeout=10)
    assert done["leg"] == leg
    t1 = time.monotonic()
    ring = worker.ctl.ok("tone", leg=leg, freq1=425, on_ms=1000, off_ms=0)["player"]
    time.sleep(1.0)  # let the caller hear the tone for a while
    t2 = time.monotonic()
    worker.ctl.ok("stop_play", player=ring)
    assert worker.ctl.command("stop_play", player=ring)["ok"] is False  # already gone
    phone.hangup(call)
    phone.wait(call, "disconnected", 5)
    worker.ctl.event("leg_ended", leg=leg)
    assert dominant_frequency(heard, 0.2, t1 - t0 - 0.2) == 500
    assert has_tone(heard, 425, t1 - t0 + 0.3, t2 - t0 - 0.2)
    assert worker.ctl.events("playback_done") == [done]  # stop_play sends no event


def test_a_fifth_call_is_refused_busy_and_the_worker_carries_on(
    worker: WorkerProcess, phone: Phone, phone2: Phone
) -> None:
    calls = [(phone, phone.call(worker.uri(f"60{i}"))) for i in range(3)]
    calls += [(phone2, phone2.call(worker.uri("603")))]
    legs = [worker.ctl.event("leg_new", request_user=f"60{i}")["leg"] for i in range(4)]
    assert worker.ctl.ok("status")["legs_in_use"] == 4
    fifth = phone2.call(worker.uri("604"))
    with pytest.raises(PhoneError):
        phone2.wait(fifth, "confirmed", 5)
    assert phone2.last_status(fifth) == 486
    assert len(worker.ctl.events("leg_new")) == 4
    for leg in legs:
        worker.ctl.ok("hangup", leg=leg, code=480)
    for leg in legs:
        assert worker.ctl.event("leg_ended", leg=leg)["code"] == 480
    for p, c in calls:
        p.wait(c, "disconnected", 5)
    assert worker.ctl.ok("status")["legs_in_use"] == 0
    again, leg = answer_incoming(worker, phone2, "605")
    phone2.hangup(again)
    worker.ctl.event("leg_ended", leg=leg)


def test_caller_giving_up_before_answer_ends_the_leg_with_487(
    worker: WorkerProcess, phone: Phone
) -> None:
    call = phone.call(worker.uri("310"))
    leg = worker.ctl.event("leg_new")["leg"]
    phone.hangup(call)
    ended = worker.ctl.event("leg_ended", leg=leg)
    assert (ended["code"], ended["by"], ended["duration_s"]) == (487, "remote", 0.0)
    assert worker.ctl.ok("status")["legs_in_use"] == 0


def test_early_media_183_carries_a_tone_before_answer(
    worker: WorkerProcess, phone: Phone, tmp_path: Path
) -> None:
    call = phone.call(worker.uri("320"))
    leg = worker.ctl.event("leg_new")["leg"]
    worker.ctl.ok("answer", leg=leg, code=183)
    phone.wait(call, "ringing", 5)
    heard = str(tmp_path / "early.wav")
    phone.record_rx(call, heard)
    worker.ctl.ok("tone", leg=leg, freq1=425, on_ms=200, off_ms=0, loop=True)
    time.sleep(1.0)  # listen to the early media for a while
    assert phone.state(call) == "ringing"
    phone.stop_record(call)
    assert has_tone(heard, 425, 0.2)
    worker.ctl.ok("answer", leg=leg)
    phone.wait(call, "confirmed", 5)
    phone.hangup(call)
    ended = worker.ctl.event("leg_ended", leg=leg)
    assert ended["code"] == 200
    assert worker.ctl.events("playback_done")[0]["leg"] == leg  # tone ended with its leg


def test_dial_with_a_from_uri_and_unbridge(
    worker: WorkerProcess, phone: Phone, phone2: Phone, tmp_path: Path
) -> None:
    phone2.auto_answer(True)
    out = worker.ctl.ok("dial", uri=phone2.uri, from_uri="sip:queue-sales@127.0.0.1")["leg"]
    inc = phone2.incoming(5)
    assert "queue-sales@127.0.0.1" in phone2.info(inc).from_uri
    worker.ctl.event("leg_answered", leg=out)
    call, leg_in = answer_incoming(worker, phone, "330")
    phone2.wait(inc, "confirmed", 5)
    phone2.send_tone(inc, 900)
    worker.ctl.ok("bridge", a=leg_in, b=out)
    bridged = str(tmp_path / "bridged.wav")
    phone.record_rx(call, bridged)
    time.sleep(1.0)  # hear the far party through the bridge
    phone.stop_record(call)
    worker.ctl.ok("unbridge", a=leg_in, b=out)
    assert worker.ctl.command("unbridge", a=leg_in, b=out)["ok"] is False
    apart = str(tmp_path / "apart.wav")
    phone.record_rx(call, apart)
    time.sleep(1.0)  # now there must be nothing to hear
    phone.stop_record(call)
    assert has_tone(bridged, 900, 0.2)
    assert not has_tone(apart, 900, 0.2)
    for leg in (leg_in, out):
        worker.ctl.ok("hangup", leg=leg)
        worker.ctl.event("leg_ended", leg=leg)
