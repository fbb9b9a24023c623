"""systemd notifications reach a real AF_UNIX datagram socket."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from appliance.sdnotify import notify, watchdog_interval, watchdog_loop


def test_not_under_systemd_does_nothing() -> None:
    assert notify("READY=1", {}) is False
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) is None


def test_watchdog_for_another_pid_is_not_ours(tmp_path: Path) -> None:
    env = {"NOTIFY_SOCKET": str(tmp_path / "n"), "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}
    assert watchdog_interval(env) is None
    env["WATCHDOG_PID"] = str(os.getpid())
    assert watchdog_interval(env) == 15.0


async def test_pings_arrive(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sink:
        sink.bind(str(path))
        sink.settimeout(2)
        env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "100000"}
        assert notify("READY=1", env)
        assert sink.recv(64) == b"READY=1"
        task = asyncio.create_task(watchdog_loop(env))
        got = [await asyncio.to_thread(sink.recv, 64) for _ in range(3)]
        task.cancel()
        await task
    assert got == [b"WATCHDOG=1"] * 3
