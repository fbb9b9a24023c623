"""Crashes, bad input and a full pool: nothing else breaks, every attempt has a CDR."""

from __future__ import annotations

import os
import random
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.appliance import Appliance, make_appliance
from tests.support.audio import has_tone
from tests.support.phone import Phone
from tests.support.procs import alive, find_pids
from tests.support.sipp import sipp
from tests.support.sipreg import SipClient

SCENARIOS = Path(__file__).parent / "scenarios"


def test_sigkill_of_one_worker_mid_call(box: Appliance, tmp_path: Path) -> None:
    with Phone() as callers, Phone() as agent:
        for ext in ("101", "104"):
            assert callers.register(ext, box.passwords[ext], registrar=box.sip) == 200
        assert agent.register("102", box.passwords["102"], registrar=box.sip) == 200
        agent.auto_answer(True)
        calls, answered = {}, {}
        for ext in ("101", "104"):
            calls[ext] = callers.call(f"sip:600@{box.sip}", user=ext)
            answered[ext] = agent.incoming(timeout=20)
            callers.wait(calls[ext], "confirmed", timeout=20)
            callers.send_tone(calls[ext], 1000)
            agent.send_tone(answered[ext], 440)
        rows = {r["caller"]: r for r in box.wait_rows(
            "SELECT * FROM cdrs WHERE callee='600' AND caller IN ('101','104') AND ended_at IS NULL"
            " AND answered_at IS NOT NULL", n=2)}
        victim, survivor = rows["101"]["worker"], rows["104"]["worker"]
        assert victim != survivor
        heard = tmp_path / "survivor.wav"
        agent.record_rx(answered["104"], str(heard))
        time.sleep(1.0)
        pids = find_pids("appliance.cli worker", f"--name {victim}", str(box.data_dir))
        assert len(pids) == 1
        os.kill(pids[0], signal.SIGKILL)
        killed_at = 1.0
        time.sleep(2.5)
        # the call on the other worker still carries audio after the kill
        assert callers.state(calls["104"]) == "confirmed"
        agent.stop_record(answered["104"])
        assert has_tone(str(heard), 1000, start_s=killed_at + 0.5)
        dead = box.wait_rows(
            "SELECT * FROM cdrs WHERE call_id = ? AND ended_at IS NOT NULL", (rows["101"]["call_id"],)
        )[0]
        assert dead["cause"] == "worker_lost" and dead["sip_code"] == 500
        for ext in ("101", "104"):
            callers.hangup(calls[ext])
    ok = box.wait_rows(
        "SELECT * FROM cdrs WHERE call_id = ? AND ended_at IS NOT NULL", (rows["104"]["call_id"],)
    )[0]
    assert ok["cause"] == "normal" and ok["sip_code"] == 200
    # the worker comes back and the restart is recorded
    box.wait_rows("SELECT * FROM service_events WHERE service = ? AND event = 'restarted'", (f"worker-{victim}",))
    box.wait_workers(box.workers)
    assert not alive(pids[0])


def _garbage(n: int) -> list[bytes]:
    rnd = random.Random(7)
    out = [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 1400))) for _ in range(n)]
    out += [
        b"INVITE sip:101@127.0.0.1 SIP/2.0\r\n\r\n",
        b"INVITE sip:101@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\n"
        b"CSeq: abc INVITE\r\nFrom: <<<\r\nTo: \r\nCall-ID: x\r\nContent-Length: 99999\r\n\r\nv=0",
        b"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKy\r\n"
        b"From: <sip:101@127.0.0.1>;tag=1\r\nTo: <sip:101@127.0.0.1>\r\nCall-ID: y\r\nCSeq: 1 REGISTER\r\n"
        b"Contact: <sip:101@127.0.0.1:1>;expires=abc\r\nAuthorization: Digest username=\"101\", realm=\r\n"
        b"Content-Length: 0\r\n\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
        b"\x00" * 100,
        b"X" * 8000 + b"\r\n\r\n",
    ]
    return out


def _big_invite_over_tcp(port: int) -> bytes:
    body = ("v=0\r\n" + "a=x-filler:" + "z" * 65536 + "\r\n").encode()
    head = (
        f"INVITE sip:102@127.0.0.1:{port};transport=tcp SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKbig\r\nMax-Forwards: 70\r\n"
        "From: <sip:101@127.0.0.1>;tag=big\r\nTo: <sip:102@127.0.0.1>\r\nCall-ID: big-body\r\n"
        f"CSeq: 1 INVITE\r\nContact: <sip:101@127.0.0.1:1>\r\nContent-Type: application/sdp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(head + body)
        s.settimeout(3)
        try:
            return s.recv(4096)
        except (TimeoutError, ConnectionError):
            return b""


def test_bad_input_does_not_disturb_calls(box: Appliance, tmp_path: Path) -> None:
    kam_pid = int((box.data_dir / "run" / "kamailio.pid").read_text())
    with Phone() as phone:
        assert phone.register("101", box.passwords["101"], registrar=box.sip) == 200
        call = phone.call(f"sip:*43@{box.sip}", user="101")
        phone.wait(call, "confirmed", timeout=10)
        phone.send_tone(call, 1000)
        heard = tmp_path / "echo.wav"
        phone.record_rx(call, str(heard))
        with SipClient("127.0.0.6", timeout=0.01) as junk:
            for datagram in _garbage(150):
                junk.send(datagram, ("127.0.0.1", box.sip_port))
        reply = _big_invite_over_tcp(box.sip_port)
        assert reply == b"" or reply.startswith(b"SIP/2.0 513") or reply.startswith(b"SIP/2.0 4")
        bad = sipp(
            [f"127.0.0.1:{box.sip_port}", "-sf", str(SCENARIOS / "malformed_invite.xml"),
             "-i", "127.0.0.7", "-m", "3", "-timeout", "10s"],
            tmp_path, "malformed.log",
        )
        bad.wait(30)
        time.sleep(1.0)
        phone.hangup(call)
        phone.wait(call, "disconnected", timeout=10)
    assert has_tone(str(heard), 1000, start_s=0.5)
    assert alive(kam_pid)
    with SipClient("127.0.0.1") as c:
        assert c.options(("127.0.0.1", box.sip_port)) == 200
    row = box.wait_rows("SELECT * FROM cdrs WHERE callee='*43' AND ended_at IS NOT NULL ORDER BY id DESC")[0]
    assert row["sip_code"] == 200 and row["duration_s"] > 1.0


@pytest.fixture
def one_worker_box(tmp_path: Path) -> Iterator[Appliance]:
    app = make_appliance(tmp_path / "box", workers=1)
    app.start()
    try:
        yield app
    finally:
        assert app.stop() == 0


def test_full_pool_gives_503_and_an_alarm(one_worker_box: Appliance) -> None:
    box = one_worker_box
    with Phone() as callers, Phone() as agent:
        for ext in ("101", "104", "105"):
            assert callers.register(ext, box.passwords[ext], registrar=box.sip) == 200
        assert agent.register("102", box.passwords["102"], registrar=box.sip) == 200
        agent.auto_answer(True)
        first = []
        for e in ("101", "104"):
            first.append(callers.call(f"sip:600@{box.sip}", user=e))
            callers.wait(first[-1], "confirmed", timeout=20)
        third = callers.call(f"sip:600@{box.sip}", user="105")
        callers.wait(third, "disconnected", timeout=10)
        assert callers.last_status(third) == 503
        for c in first:
            assert callers.state(c) == "confirmed"
            callers.hangup(c)
    alarm = box.wait_rows("SELECT * FROM alarms WHERE code='media_pool_full'")[0]
    assert "2 legs needed" in alarm["message"]
    row = box.wait_rows("SELECT * FROM cdrs WHERE caller='105' AND callee='600'")[0]
    assert row["sip_code"] == 503 and row["cause"] == "media_pool_full"


def test_dead_child_restarted_and_ctrl_c_stops_all(tmp_path: Path) -> None:
    box = make_appliance(tmp_path / "box", workers=1)
    box.start()
    try:
        kam_pid = int((box.data_dir / "run" / "kamailio.pid").read_text())
        os.kill(kam_pid, signal.SIGKILL)
        box.wait_rows("SELECT * FROM service_events WHERE service='kamailio' AND event='restarted'")
        with SipClient("127.0.0.1") as c:
            deadline = time.monotonic() + 20
            code = 0
            while code != 200 and time.monotonic() < deadline:
                code = c.register("101", box.passwords["101"], ("127.0.0.1", box.sip_port))
            assert code == 200
        children = find_pids(str(box.data_dir))
        assert len(children) >= 3
    finally:
        assert box.stop() == 0
    time.sleep(0.5)
    assert [p for p in children if alive(p)] == []
    died = box.query("SELECT detail FROM service_events WHERE service='kamailio' AND event='died'")
    assert died and "exit" in died[0]["detail"]


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    box = make_appliance(tmp_path / "box", workers=1)
    box.start()
    try:
        children = [p for p in find_pids(str(box.data_dir)) if box.proc and p != box.proc.pid]
        assert len(children) >= 3  # controller, kamailio (and its forks), worker
        assert box.proc is not None
        box.proc.kill()
        box.proc.wait(10)
        deadline = time.monotonic() + 15
        while [p for p in children if alive(p)] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [p for p in children if alive(p)] == []
    finally:
        box.stop()
