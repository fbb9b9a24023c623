"""systemd notifications (READY, WATCHDOG, STOPPING) without libsystemd.

Under systemd with `WatchdogSec=`, the controller pings from a task on its asyncio loop,
so a wedged loop stops the pings and systemd restarts it. Outside systemd, nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Mapping


def _address(env: Mapping[str, str]) -> str | None:
    path = env.get("NOTIFY_SOCKET")
    if not path:
        return None
    return "\0" + path[1:] if path.startswith("@") else path


def notify(message: str, env: Mapping[str, str] | None = None) -> bool:
    """Send one notification; False when not under systemd or the send failed."""
    address = _address(env if env is not None else os.environ)
    if address is None:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.sendto(message.encode(), address)
        except OSError:
            return False
    return True


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Half the watchdog period in seconds, or None when no watchdog applies to us."""
    env = env if env is not None else os.environ
    usec, pid = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
    if not usec or _address(env) is None:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None


async def watchdog_loop(env: Mapping[str, str] | None = None) -> None:
    """Ping WATCHDOG=1 every half period until cancelled (returns at once without one)."""
    interval = watchdog_interval(env)
    if interval is None:
        return
    with contextlib.suppress(asyncio.CancelledError):
        while True:
            notify("WATCHDOG=1", env)
            await asyncio.sleep(interval)
