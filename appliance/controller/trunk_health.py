"""Trunk health: OPTIONS pings and call outcomes drive each trunk up or down; alarms on change."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from appliance.domain.clock import Clock
from appliance.storage.calls import CallStore
from appliance.trunks.health import TrunkHealth, TrunkState, ping_ok
from appliance.trunks.model import Trunk

log = logging.getLogger(__name__)


def alarm_code(trunk: str) -> str:
    """The alarm raised while `trunk` is down."""
    return f"trunk_down:{trunk}"


class _OptionsProtocol(asyncio.DatagramProtocol):
    def __init__(self, answer: asyncio.Future[int | None]) -> None:
        self.answer = answer

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        first = data.split(b"\r\n", 1)[0].decode(errors="replace").split()
        if len(first) >= 2 and first[0] == "SIP/2.0" and first[1].isdigit():
            code = int(first[1])
            if code >= 200 and not self.answer.done():
                self.answer.set_result(code)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_result(None)  # ICMP port unreachable: nobody listens there


async def options_ping(host: str, port: int, timeout: float, local_ip: str = "0.0.0.0") -> int | None:
    """Send one OPTIONS over UDP; the final status code, or None if none came in time."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[int | None] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _OptionsProtocol(answer), local_addr=(local_ip, 0), remote_addr=(host, port)
    )
    try:
        ip, lport = transport.get_extra_info("sockname")[:2]
        tag = secrets.token_hex(6)
        msg = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {ip}:{lport};branch=z9hG4bK{tag};rport\r\n"
            f"From: <sip:health@{ip}>;tag={tag}\r\nTo: <sip:{host}:{port}>\r\n"
            f"Call-ID: trunk-health-{tag}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "User-Agent: edge-appliance\r\nContent-Length: 0\r\n\r\n"
        )
        deadline = loop.time() + timeout
        interval = 0.5
        while True:  # retransmit like a UDP transaction would (T1 doubling)
            transport.sendto(msg.encode())
            left = deadline - loop.time()
            if left <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(answer), min(interval, left))
            interval *= 2
    finally:
        transport.close()


@dataclass(frozen=True)
class TrunkStatus:
    """A trunk's live state, for the API."""

    name: str
    state: str
    last_code: int | None
    since: float  # monotonic seconds of the last change


class TrunkMonitor:
    """Holds each trunk's health; pings them on an interval; raises and clears alarms."""

    def __init__(
        self, *, store: CallStore, clock: Clock, interval_s: float = 15.0, ping_timeout_s: float = 2.0,
        fail_threshold: int = 2, ok_threshold: int = 2,
    ) -> None:
        self.store = store
        self.clock = clock
        self.interval_s = interval_s
        self.ping_timeout_s = ping_timeout_s
        self.fail_threshold = fail_threshold
        self.ok_threshold = ok_threshold
        self.health: dict[str, TrunkHealth] = {}
        self.trunks: dict[str, Trunk] = {}
        self.wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def configure(self, trunks: dict[str, Trunk]) -> None:
        """Follow the configured trunks (new ones start unknown; a changed address starts over)."""
        for name, trunk in trunks.items():
            old = self.trunks.get(name)
            if name not in self.health or old is None or old.address != trunk.address:
                self.health[name] = TrunkHealth(name, self.fail_threshold, self.ok_threshold)
        for name in set(self.health) - set(trunks):
            del self.health[name]
        self.trunks = dict(trunks)
        self.wake.set()

    def usable(self, name: str) -> bool:
        """Whether calls may be sent to the trunk now."""
        h = self.health.get(name)
        return h is None or h.usable

    async def observe(self, name: str, ok: bool, code: int | None) -> None:
        """Feed one outcome (a ping or a call); alarm on a change."""
        h = self.health.get(name)
        if h is None:
            return
        changed = h.observe(ok, code, self.clock.monotonic())
        now = self.clock.now()
        if changed is TrunkState.DOWN:
            log.warning("trunk %s is down (last answer %s): outbound routes skip it", name, code)
            await self.store.raise_alarm(
                now, "major", alarm_code(name), f"trunk {name} is down (last answer: {code or 'none'})"
            )
        elif changed is TrunkState.UP:
            log.info("trunk %s is up", name)
            await self.store.clear_alarm(now, alarm_code(name))

    async def ping(self, trunk: Trunk) -> None:
        """Ping one trunk and feed the answer in."""
        try:
            code = await options_ping(trunk.host, trunk.port, self.ping_timeout_s)
        except OSError as exc:
            log.warning("OPTIONS to trunk %s failed: %s", trunk.name, exc)
            code = None
        await self.observe(trunk.name, ping_ok(code), code)

    async def ping_all(self) -> None:
        """Ping every enabled trunk that wants health checks, in parallel."""
        due = [t for t in self.trunks.values() if t.enabled and t.health_check]
        await asyncio.gather(*(self.ping(t) for t in due))

    async def _run(self) -> None:
        while True:
            self.wake.clear()
            try:
                await self.ping_all()
            except Exception:
                log.exception("trunk health round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.interval_s)

    def start(self) -> None:
        """Start pinging in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="trunk-health")

    async def stop(self) -> None:
        """Stop pinging."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def status(self) -> list[TrunkStatus]:
        """Every trunk's live state."""
        return [TrunkStatus(h.name, h.state.value, h.last_code, h.changed_at) for h in self.health.values()]
