"""The OUTBOUND flow (toll-fraud check, trunks in order with failover) and the trunk service.

A call to an external number reaches a worker as an OUTBOUND session. The flow checks the
toll-fraud limits first, then dials the route's trunks in order through the SIP edge (the
worker's INVITE carries `X-Trunk-Dst`, which Kamailio turns into the next hop), with the
route's caller-ID in From and P-Asserted-Identity. A trunk that answers 5xx, does not answer
within its answer timeout, or is down by health checks is skipped; the first that answers is
bridged to the caller and recorded per the route.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from appliance.controller.rpc import RpcError
from appliance.controller.sessions import CallEnded, Session, SessionManager
from appliance.controller.trunk_health import TrunkMonitor
from appliance.domain.clock import Clock
from appliance.domain.dialplan import MediaService
from appliance.domain.session_state import SessionState
from appliance.storage.calls import CallStore
from appliance.storage.trunks import TrunkConfig, TrunkStore
from appliance.trunks.health import call_failure_counts
from appliance.trunks.model import OutboundRoute, Trunk, TrunkError, check_routes, pick_route
from appliance.trunks.tollfraud import TollPolicy, check_call
from provisioning.secrets import SecretBox, load_or_create_key

log = logging.getLogger(__name__)

TRUNK_HEADER = "X-Trunk-Dst"  # read and removed by the edge (kamailio.cfg.j2, worker branch)
NO_ROUTE = "no_outbound_route"
ALL_TRUNKS_FAILED = "all_trunks_failed"


@dataclasses.dataclass(frozen=True)
class Attempt:
    """How one trunk attempt ended: a leg that answered, or a SIP code."""

    leg: str | None
    code: int
    cause: str


class TrunkService:
    """Owns the trunk configuration in memory, the health monitor and the OUTBOUND flow."""

    def __init__(
        self, *, store: TrunkStore, monitor: TrunkMonitor, manager: SessionManager, clock: Clock,
    ) -> None:
        self.store = store
        self.monitor = monitor
        self.manager = manager
        self.clock = clock
        self.config = TrunkConfig()
        self._by_address: dict[str, str] = {}
        self.listeners: list[Callable[[], Awaitable[None]]] = []  # told after every change

    # ----- configuration -----

    async def reload(self) -> None:
        """Re-read the tables; routing and health follow at once."""
        self.config = await self.store.load()
        self._by_address = {t.address: t.name for t in self.config.trunks.values() if t.enabled}
        self.monitor.configure(self.config.trunks)
        self.manager.directory = dataclasses.replace(
            self.manager.directory, outbound_patterns=self.outbound_patterns()
        )
        for listener in self.listeners:
            await listener()

    def outbound_patterns(self) -> tuple[str, ...]:
        """Dialed numbers that go OUTBOUND: the routes' patterns."""
        return tuple(r.pattern for r in self.config.routes)

    def trunk_at(self, addr: str) -> str | None:
        """The enabled trunk whose requests come from `addr` ("ip:port"), if any."""
        return self._by_address.get(addr)

    async def credentials(self, addr: str) -> tuple[str, str] | None:
        """Digest credentials of the enabled trunk at `addr` ("host:port"), if it has them."""
        trunk = next((t for t in self.config.trunks.values() if t.enabled and t.address == addr), None)
        if trunk is None or trunk.username is None:
            return None
        password = await self.store.password(trunk.name)
        return (trunk.username, password) if password is not None else None

    async def save_trunk(self, trunk: Trunk, password: str | None, *, create: bool) -> Trunk:
        """Create or replace a trunk (validated by construction)."""
        await self.store.put_trunk(trunk, password, create=create)
        await self.reload()
        return trunk

    async def delete_trunk(self, name: str) -> None:
        """Delete a trunk that no route uses."""
        await self.store.delete_trunk(name)
        await self.reload()

    async def save_route(self, route: OutboundRoute, *, create: bool) -> OutboundRoute:
        """Create or replace an outbound route; its trunks must exist."""
        check_routes([route], self.config.trunks)
        await self.store.put_route(route, create=create)
        await self.reload()
        return route

    async def delete_route(self, name: str) -> None:
        """Delete an outbound route."""
        await self.store.delete_route(name)
        await self.reload()

    async def save_policy(self, policy: TollPolicy) -> TollPolicy:
        """Replace the toll-fraud limits."""
        await self.store.put_policy(policy)
        await self.reload()
        return policy

    # ----- the flow -----

    async def run(self, session: Session) -> None:
        """The OUTBOUND flow: toll-fraud check, then the route's trunks in order."""
        m = self.manager
        link, caller_leg = m.need(session)
        dialed = session.target
        since = self.clock.now() - timedelta(hours=1)
        placed = await self.store.outbound_calls_since(session.caller, since, exclude=session.call_id)
        verdict = check_call(self.config.policy, session.caller, dialed, placed)
        if not verdict.allowed:
            log.warning("outbound call %s from %s to %s refused: %s", session.call_id, session.caller, dialed,
                        verdict.detail)
            await self._refuse(session, verdict.code, verdict.cause)
        route = pick_route(self.config.routes, dialed)
        if route is None:
            await self._refuse(session, 404, NO_ROUTE)
        assert route is not None
        number = route.number_to_send(dialed)
        if not session.caller_answered:
            await link.command("answer", leg=caller_leg, code=180)
        if session.state is SessionState.ANSWERING:
            session.set_state(SessionState.HUNTING)
        last = Attempt(None, 503, ALL_TRUNKS_FAILED)
        for name in route.trunks:
            trunk = self.config.trunks.get(name)
            if trunk is None or not trunk.enabled:
                continue
            if not self.monitor.usable(name):
                log.info("call %s: trunk %s is down, skipped", session.call_id, name)
                continue
            attempt = await self._try(session, route, trunk, number)
            if attempt.leg is not None:
                await self.monitor.observe(name, True, 200)
                await self._connect(session, route, trunk, number, attempt.leg)
                return
            if attempt.code and call_failure_counts(attempt.code):
                await self.monitor.observe(name, False, attempt.code)
                log.warning("call %s: trunk %s failed (%d %s), trying the next", session.call_id, name,
                            attempt.code, attempt.cause)
                last = attempt
                continue
            if attempt.code == 0:  # the worker could not place the leg: not the trunk's fault
                continue
            await self._refuse(session, attempt.code, attempt.cause)  # busy, not found...: final
        await self._refuse(session, 503 if last.code == 408 else last.code, ALL_TRUNKS_FAILED)

    async def _try(self, session: Session, route: OutboundRoute, trunk: Trunk, number: str) -> Attempt:
        m = self.manager
        link, caller_leg = m.need(session)
        cid = route.caller_id_for(trunk.kind, session.caller)
        edge = m.edge_uri
        try:
            data = await link.command(
                "dial",
                uri=f"sip:{number}@{edge}",
                from_uri=f"sip:{cid}@{edge}",
                headers={"P-Asserted-Identity": f"<sip:{cid}@{edge}>", TRUNK_HEADER: trunk.destination()},
                timeout_s=route.ring_seconds,
            )
        except RpcError as exc:
            log.warning("call %s: dial over trunk %s failed on %s: %s", session.call_id, trunk.name, link.name, exc)
            return Attempt(None, 0, "dial_failed")
        leg = str(data["leg"])
        m.track(session, leg)
        log.info("call %s: %s over trunk %s as %s", session.call_id, number, trunk.name, cid)
        loop = asyncio.get_running_loop()
        answer_by = loop.time() + trunk.answer_timeout_s
        ringing = False
        while True:
            left = None if ringing else answer_by - loop.time()
            if left is not None and left <= 0:
                with contextlib.suppress(RpcError):
                    await link.command("hangup", leg=leg)
                await m.wait_ended(session, leg)
                return Attempt(None, 408, "trunk_timeout")
            try:
                msg = await asyncio.wait_for(session.events.get(), left)
            except TimeoutError:
                continue
            m.check_caller(session, msg, caller_leg)
            if msg.get("leg") != leg:
                continue
            event = msg.get("event")
            if event == "leg_ringing":
                ringing = True
            elif event == "leg_answered":
                return Attempt(leg, 200, "answered")
            elif event == "leg_ended":
                code = int(msg.get("code") or 500)
                return Attempt(None, code, _cause(code))

    async def _connect(self, session: Session, route: OutboundRoute, trunk: Trunk, number: str, leg: str) -> None:
        m = self.manager
        link, caller_leg = m.need(session)
        await m.answer_caller(session)
        await link.command("bridge", a=caller_leg, b=leg)
        if route.record:
            await m.start_recording(session, [session.caller, number], [caller_leg, leg])
        await m.mark_answered(session, f"trunk:{trunk.name}")
        session.set_state(SessionState.CONNECTED)
        await m.until_any_ends(session, {caller_leg, leg})

    async def _refuse(self, session: Session, code: int, cause: str) -> None:
        """End the call with `code` (the caller hears it if not yet answered) and `cause` in the CDR."""
        link, caller_leg = self.manager.need(session)
        if not session.caller_answered and caller_leg in session.live:
            with contextlib.suppress(RpcError):
                await link.command("hangup", leg=caller_leg, code=code)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    while caller_leg in session.live:
                        msg = await session.events.get()
                        if msg.get("event") == "leg_ended" and msg.get("leg") == caller_leg:
                            break
        raise CallEnded(code, cause)


def _cause(code: int) -> str:
    if code == 486 or code == 600:
        return "busy"
    if code in (408, 480, 487):
        return "no_answer"
    return f"sip_{code}"


async def wire_trunks(
    manager: SessionManager, db: aiosqlite.Connection, store: CallStore, clock: Clock,
    data_dir: Path, options: dict[str, Any],
) -> TrunkService:
    """Build the trunk service, register the OUTBOUND flow, load the tables, start health checks.

    `options` is settings.extra["trunks"]: health_interval_s, ping_timeout_s, fail_threshold,
    ok_threshold.
    """
    box = SecretBox(load_or_create_key(data_dir / "keys" / "trunks.key"))
    monitor = TrunkMonitor(
        store=store, clock=clock,
        interval_s=float(options.get("health_interval_s", 15.0)),
        ping_timeout_s=float(options.get("ping_timeout_s", 2.0)),
        fail_threshold=int(options.get("fail_threshold", 2)),
        ok_threshold=int(options.get("ok_threshold", 2)),
    )
    service = TrunkService(store=TrunkStore(db, box), monitor=monitor, manager=manager, clock=clock)
    manager.flows[MediaService.OUTBOUND] = service.run
    await service.reload()
    monitor.start()
    return service


def find_service(flows: dict[MediaService, Any]) -> TrunkService:
    """The trunk service behind the registered OUTBOUND flow (for the web API)."""
    flow = flows.get(MediaService.OUTBOUND)
    owner = getattr(flow, "__self__", None)
    if not isinstance(owner, TrunkService):
        raise RuntimeError("the OUTBOUND flow is not wired to a TrunkService (appliance/app.py)")
    return owner


__all__ = ["Attempt", "TrunkError", "TrunkService", "find_service"]
