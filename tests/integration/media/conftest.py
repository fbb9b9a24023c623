"""Fixtures: a real media worker process and a tiny controller (the test) on a unix socket."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.net import free_port
from tests.support.phone import Phone

REPO_ROOT = Path(__file__).resolve().parents[3]

Message = dict[str, Any]


class Controller:
    """The controller's side of the worker RPC: sends commands, collects events."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.cond = threading.Condition()
        self.messages: list[Message] = []
        self.closed = False
        self._req = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                data = self.conn.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                with self.cond:
                    self.messages.append(json.loads(line))
                    self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def send_raw(self, line: bytes) -> None:
        """Send bytes as they are (for malformed-input tests)."""
        self.conn.sendall(line)

    def command(self, cmd: str, timeout: float = 10.0, **fields: Any) -> Message:
        """Send one command and return its result message."""
        with self.cond:
            self._req += 1
            req = self._req
        self.send_raw(json.dumps({"type": "cmd", "req": req, "cmd": cmd, **fields}).encode()
                      + b"\n")
        return self.wait(lambda m: m.get("type") == "result" and m.get("req") == req, timeout,
                         f"result of {cmd}")

    def ok(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """Send a command that must succeed; return its data."""
        result = self.command(cmd, **fields)
        assert result["ok"], result
        data: dict[str, Any] = result["data"]
        return data

    def wait(self, match: Callable[[Message], bool], timeout: float = 10.0,
             what: str = "message") -> Message:
        """Wait for the first message (already received or future) that matches."""
        found: list[Message] = []

        def ready() -> bool:
            found[:] = [m for m in self.messages if match(m)]
            return bool(found) or self.closed

        with self.cond:
            if not self.cond.wait_for(ready, timeout):
                raise AssertionError(f"timed out waiting for {what}")
            if not found:
                raise AssertionError(f"worker closed the socket while waiting for {what}")
            return found[0]

    def event(self, name: str, timeout: float = 10.0, **fields: Any) -> Message:
        """Wait for an event named `name` whose fields include `fields`."""
        return self.wait(
            lambda m: m.get("type") == "event" and m.get("event") == name
            and all(m.get(k) == v for k, v in fields.items()),
            timeout, f"event {name} {fields}",
        )

    def events(self, name: str) -> list[Message]:
        """All events named `name` received so far."""
        with self.cond:
            return [m for m in self.messages if m.get("event") == name]


class WorkerProcess:
    """A running `python -m appliance.media.worker` with its controller connection."""

    def __init__(self, proc: subprocess.Popen[bytes], ctl: Controller, hello: Message,
                 sip_port: int) -> None:
        self.proc, self.ctl, self.hello, self.sip_port = proc, ctl, hello, sip_port

    def uri(self, user: str) -> str:
        """A SIP URI addressed straight to the worker."""
        return f"sip:{user}@127.0.0.1:{self.sip_port}"


@pytest.fixture
def short_dir() -> Iterator[str]:
    """A short temporary directory (unix socket paths are limited to ~108 bytes)."""
    path = tempfile.mkdtemp(prefix="mw-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def start_worker(sock_dir: str, name: str = "w1") -> WorkerProcess:
    """Listen on a fresh unix socket, start a worker against it, wait for its hello."""
    sock_path = os.path.join(sock_dir, f"{name}.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    server.settimeout(20)
    sip_port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance.media.worker", "--name", name, "--ip", "127.0.0.1",
         "--sip-port", str(sip_port), "--rpc", sock_path, "--log-level", "warning"],
        cwd=REPO_ROOT,
    )
    try:
        conn, _ = server.accept()
    except OSError:
        proc.kill()
        proc.wait()
        raise
    finally:
        server.close()
    conn.settimeout(None)
    ctl = Controller(conn)
    hello = ctl.wait(lambda m: True, 20, "hello")
    return WorkerProcess(proc, ctl, hello, sip_port)


def stop_worker(w: WorkerProcess) -> int:
    """Close the controller socket and wait for the worker to exit; return its code."""
    with contextlib.suppress(OSError):
        w.ctl.conn.shutdown(socket.SHUT_RDWR)
    w.ctl.conn.close()
    try:
        return w.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        w.proc.kill()
        w.proc.wait()
        raise


@pytest.fixture
def worker(short_dir: str) -> Iterator[WorkerProcess]:
    """A real media worker whose controller is the test."""
    w = start_worker(short_dir)
    try:
        yield w
    finally:
        if w.proc.poll() is None:
            stop_worker(w)


@pytest.fixture
def phone() -> Iterator[Phone]:
    """A pjsua2 test phone."""
    with Phone() as p:
        yield p


@pytest.fixture
def phone2() -> Iterator[Phone]:
    """A second pjsua2 test phone."""
    with Phone() as p:
        yield p
