"""`appliance run`: start the controller, Kamailio and the media workers; keep them up.

A child that dies is restarted with backoff; every start, death and restart is logged
and recorded in `service_events`. Ctrl-C (or SIGTERM) stops every child cleanly: workers
first (they hang up their legs), then Kamailio, then the controller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from appliance.domain.backoff import Backoff

log = logging.getLogger(__name__)

Recorder = Callable[[str, str, str], Awaitable[None]]


@dataclass
class ChildSpec:
    """A supervised program."""

    name: str
    argv: list[str]
    ready: Callable[[], Awaitable[None]] | None = None
    stop_timeout_s: float = 8.0
    env: dict[str, str] = field(default_factory=dict)
    group: str = ""  # consecutive children of one group are stopped together


class Child:
    """One running (or restarting) child."""

    def __init__(self, spec: ChildSpec, record: Recorder) -> None:
        self.spec = spec
        self.record = record
        self.proc: asyncio.subprocess.Process | None = None
        self.backoff = Backoff()
        self.stopping = False
        self.restarts = 0
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the program and wait until it is ready."""
        env = {**os.environ, **self.spec.env}
        self.proc = await asyncio.create_subprocess_exec(
            *self.spec.argv, env=env, start_new_session=True, preexec_fn=_die_with_parent
        )
        log.info("%s started (pid %d)", self.spec.name, self.proc.pid)
        await self.record(self.spec.name, "started", f"pid {self.proc.pid}")
        if self.spec.ready is not None:
            await self.spec.ready()

    async def watch(self) -> None:
        """Restart the program with backoff whenever it dies, until told to stop."""
        while not self.stopping:
            assert self.proc is not None
            started = time.monotonic()
            code = await self.proc.wait()
            _kill_group(self.proc.pid)  # orphans of a crashed parent (Kamailio forks) go too
            if self.stopping:
                return
            ran = time.monotonic() - started
            delay = self.backoff.on_exit(ran)
            log.error("%s died (exit %s) after %.1f s; restarting in %.1f s", self.spec.name, code, ran, delay)
            await self.record(self.spec.name, "died", f"exit {code} after {ran:.1f} s")
            await asyncio.sleep(delay)
            if self.stopping:
                return
            self.restarts += 1
            try:
                await self.start()
                await self.record(self.spec.name, "restarted", f"restart {self.restarts}")
            except Exception as exc:  # readiness failed: it will be seen dying and retried
                log.error("%s restart not ready: %r", self.spec.name, exc)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after the timeout."""
        self.stopping = True
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self.spec.stop_timeout_s)
        except TimeoutError:
            log.warning("%s did not stop in %.0f s; killing it", self.spec.name, self.spec.stop_timeout_s)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        _kill_group(proc.pid)
        await self.record(self.spec.name, "stopped", f"exit {proc.returncode}")


class Supervisor:
    """Starts children in order, watches them, stops them in reverse order."""

    def __init__(self, specs: list[ChildSpec], record: Recorder) -> None:
        self.children = [Child(s, record) for s in specs]

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set."""
        try:
            for child in self.children:
                await child.start()
                child.task = asyncio.create_task(child.watch(), name=f"watch-{child.spec.name}")
            log.info("appliance up: %s", ", ".join(c.spec.name for c in self.children))
            await stop.wait()
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        """Stop every child, last started first; the workers (a group) all at once."""
        for child in reversed(self.children):
            child.stopping = True
        groups: list[list[Child]] = []
        for child in self.children:
            if groups and child.spec.group and groups[-1][0].spec.group == child.spec.group:
                groups[-1].append(child)
            else:
                groups.append([child])
        for group in reversed(groups):
            await asyncio.gather(*(child.stop() for child in group))
            for child in group:
                if child.task is not None:
                    child.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await child.task


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the supervisor dies (even by SIGKILL)."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _kill_group(pgid: int) -> None:
    """SIGKILL whatever is left in a child's process group (each child leads its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def python_argv(*args: str) -> list[str]:
    """Run this same Python with the appliance CLI."""
    return [sys.executable, "-m", "appliance.cli", *args]
