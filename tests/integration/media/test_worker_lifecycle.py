"""Worker robustness: bad commands change nothing; it exits cleanly when told or orphaned."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from typing import Any

import pytest

from tests.integration.media.conftest import (
    REPO_ROOT,
    WorkerProcess,
    start_worker,
    stop_worker,
)
from tests.integration.media.test_worker_calls import answer_incoming
from tests.support.phone import Phone

pytestmark = pytest.mark.integration


def test_bad_commands_get_clear_errors_and_the_worker_keeps_serving(
    worker: WorkerProcess, phone: Phone
) -> None:
    ctl = worker.ctl
    call, leg = answer_incoming(worker, phone, "700")
    before = ctl.ok("status")
    cases: dict[str, dict[str, Any]] = {
        "fly": {},
        "answer": {},
        "hangup": {"leg": "w1-L999"},
        "bridge": {"a": leg, "b": "nope"},
        "play": {"leg": leg, "file": "/nonexistent/prompt.wav"},
        "record": {"legs": [leg], "path_base": "/nonexistent/dir/rec"},
        "tone": {"leg": leg, "freq1": 425, "on_ms": 99999, "off_ms": 0},
        "dial": {"uri": "http://example.com"},
        "stop_record": {"recording": "w1-R42"},
    }
    for cmd, fields in cases.items():
        result = ctl.command(cmd, **fields)
        assert result["ok"] is False, (cmd, result)
        assert isinstance(result["error"], str) and result["error"], cmd
    assert "unknown command 'fly'" in ctl.command("fly")["error"]
    assert "missing field 'leg'" in ctl.command("answer")["error"]
    assert "unknown leg 'w1-L999'" in ctl.command("hangup", leg="w1-L999")["error"]
    ctl.send_raw(b"this is not json\n")
    ctl.send_raw(b'{"type":"cmd","cmd":"status"}\n')
    errors = ctl.wait(
        lambda m: m.get("type") == "result" and m.get("req") is None
        and "req" in m.get("error", ""), 10, "error for a command without req",
    )
    assert errors["ok"] is False
    assert ctl.ok("status") == before  # nothing changed
    assert phone.state(call) == "confirmed"
    ctl.ok("echo", leg=leg)  # still serving
    phone.hangup(call)
    assert ctl.event("leg_ended", leg=leg)["code"] == 200


def test_closing_the_controller_socket_hangs_up_and_exits_zero(
    worker: WorkerProcess, phone: Phone
) -> None:
    call, _leg = answer_incoming(worker, phone, "800")
    assert stop_worker(worker) == 0
    phone.wait(call, "disconnected", 5)  # the worker sent BYE before leaving


@pytest.mark.parametrize("how", ["sigterm", "shutdown"])
def test_sigterm_or_shutdown_ends_legs_reports_them_and_exits_zero(
    short_dir: str, phone: Phone, how: str
) -> None:
    w = start_worker(short_dir, name="w9")
    try:
        call, leg = answer_incoming(w, phone, "900")
        if how == "sigterm":
            w.proc.send_signal(signal.SIGTERM)
        else:
            assert w.ctl.command("shutdown")["ok"] is True
        ended = w.ctl.event("leg_ended", leg=leg)
        assert (ended["by"], ended["code"]) == ("local", 200)
        phone.wait(call, "disconnected", 5)
        assert w.proc.wait(timeout=15) == 0
    finally:
        if w.proc.poll() is None:
            stop_worker(w)


def test_a_sip_port_already_taken_is_a_clear_startup_error(short_dir: str) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock_path = os.path.join(short_dir, "c.sock")
    server.bind(sock_path)
    server.listen(1)
    server.settimeout(20)
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance.media.worker", "--name", "w1", "--ip", "127.0.0.1",
         "--sip-port", str(taken.getsockname()[1]), "--rpc", sock_path],
        cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True,
    )
    try:
        conn, _ = server.accept()
        conn.settimeout(20)
        assert conn.recv(1000) == b""  # no hello: the worker gave up
        conn.close()
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 2
        assert "cannot start SIP on 127.0.0.1" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        server.close()
        taken.close()
