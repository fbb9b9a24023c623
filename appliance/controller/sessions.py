"""Media sessions: the flows that run on a worker (echo test, ring group).

Each session is one asyncio task that receives its legs' events through a queue and
sends commands to its worker. A failure inside a flow is logged and the caller is
hung up politely; it never leaves a caller in silence. Every attempt ends in a CDR.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.controller.recordings import RecordingIndexer
from appliance.controller.rpc import RpcError, WorkerLink
from appliance.domain.clock import Clock
from appliance.domain.dialplan import (
    LEGS_NEEDED,
    Directory,
    MediaService,
    Reject,
    ToExtension,
    ToMedia,
    hunt_order,
    route,
)
from appliance.domain.placement import Placement
from appliance.domain.session_state import SessionState, transition
from appliance.storage.calls import CallStore

if TYPE_CHECKING:
    from appliance.controller.queues import QueueService

log = logging.getLogger(__name__)

WORKER_LOST = "worker_lost"
MAX_EARLY_LEGS = 256
CLICK_RING_S = 30  # how long click-to-call rings the agent's phone, then the number

Flow = Callable[["Session"], Awaitable[None]]
RouteSource = Callable[[], dict[str, ToMedia]]


@dataclass
class Session:
    """One caller's media session on one worker."""

    call_id: str
    service: MediaService
    target: str
    caller: str
    worker: str
    started: datetime
    state: SessionState = SessionState.RESERVED
    link: WorkerLink | None = None
    caller_leg: str | None = None
    legs: set[str] = field(default_factory=set)
    live: set[str] = field(default_factory=set)  # legs not yet reported ended: they hold slots
    legs_gone: asyncio.Event = field(default_factory=asyncio.Event)
    events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    answered_by: str | None = None
    caller_answered: bool = False  # the caller's leg got its 200 OK (see answer_caller)
    data: dict[str, Any] = field(default_factory=dict)  # what flows pass on in a hand-over

    def set_state(self, new: SessionState) -> None:
        """Move to `new` through the state table, logging old -> new."""
        old = self.state
        self.state = transition(old, new)
        log.info("session %s: %s -> %s", self.call_id, old.value, new.value)


class CallEnded(Exception):
    """The caller's leg ended (or its worker was lost) while the flow waited."""

    def __init__(self, code: int, cause: str) -> None:
        super().__init__(cause)
        self.code = code
        self.cause = cause


class SessionManager:
    """Owns the live media sessions."""

    def __init__(
        self,
        *,
        placement: Placement,
        store: CallStore,
        indexer: RecordingIndexer,
        clock: Clock,
        data_dir: Path,
        edge_uri: str,
        directory: Directory,
    ) -> None:
        self.placement = placement
        self.store = store
        self.indexer = indexer
        self.clock = clock
        self.data_dir = data_dir
        self.edge_uri = edge_uri  # e.g. "127.0.0.1:5060": where workers dial extensions
        self.queues: QueueService | None = None  # the ACD wiring (controller/queues.py)
        # The flow run for each media service (echo and ring groups are built in; the
        # composition root registers the others: queues, IVR, voicemail, trunks...).
        self.flows: dict[MediaService, Flow] = {
            MediaService.ECHO: self._echo,
            MediaService.RING_GROUP: self._ring_group,
            MediaService.CLICK_TO_CALL: self._click_to_call,
        }
        # Numbers owned by features (IVR and DID numbers, voicemail access, park slots):
        # each source is asked again whenever the directory is set.
        self.route_sources: list[RouteSource] = []
        # Set by the call-feature layer (controller/transfer.py): gives a service's flow
        # transfer, parking and supervision when the session starts or is handed over.
        self.wrap_flow: Callable[[MediaService, Flow], Flow] | None = None
        # Numbers the box answers itself that phones may REFER a call to (park slots): each
        # worker is told at hello, so the transferer gets NOTIFY 200 (appliance/media).
        self.local_numbers: set[str] = set()
        self.directory = directory
        self.sessions: dict[str, Session] = {}
        self._by_leg: dict[tuple[str, str], Session] = {}
        self.links: dict[str, WorkerLink] = {}
        self._recordings: dict[tuple[str, str], tuple[str, list[str], datetime]] = {}
        # Events of a leg whose `dial` result is not processed yet (the worker may send the
        # result and the leg's first events in one burst): kept until the leg is tracked.
        self._early: OrderedDict[tuple[str, str], list[dict[str, Any]]] = OrderedDict()
        self._bg: set[asyncio.Task[Any]] = set()

    @property
    def directory(self) -> Directory:
        """The numbering plan routing uses (queue numbers come from the queue service)."""
        return self._directory

    @directory.setter
    def directory(self, value: Directory) -> None:
        # An admin reload re-reads extensions and ring groups only: keep the queues.
        if self.queues is not None and not value.queues:
            value = dataclasses.replace(value, queues=self.queues.numbers())
        sources: list[RouteSource] = getattr(self, "route_sources", [])
        if not sources:
            self._directory = value
            return
        self._directory = value  # sources read the new numbering plan (e.g. *98 for a new extension)
        services: dict[str, ToMedia] = {}
        for source in sources:
            services.update(source())
        self._directory = dataclasses.replace(value, services=services)

    def refresh_routes(self) -> None:
        """Ask the route sources again (after a feature's configuration changed)."""
        self.directory = self._directory

    # ----- placement, asked by the edge API -----

    async def reserve(
        self, call_id: str, service: MediaService, target: str, caller: str, legs: int
    ) -> str | None:
        """Reserve a worker for a new session; return its SIP address or None if full.

        A number pinned to a live session (a parked call's slot) lands on that session's
        worker, because the bridge is per worker; if it has no room the call is refused."""
        pin = self.placement.pinned_worker(f"{service.value}:{target}")
        worker = self.placement.place(call_id, legs, self.clock.monotonic(), pin=pin)
        if worker is None or worker not in self.links:
            if worker is not None:
                self.placement.release(call_id)
            return None
        if call_id not in self.sessions:
            self.sessions[call_id] = Session(call_id, service, target, caller, worker, self.clock.now())
            await self.store.cdr_open(call_id, service.value, caller, target, self.clock.now(), worker)
        return self.links[worker].hello.sip

    async def originate(self, extension: str, number: str) -> str | None:
        """Click-to-call: ring `extension`'s desk phone from a worker, then dial `number` as if the
        extension had dialed it (same routing, toll-fraud rules and CDR). Returns the session id,
        or None when no worker has room."""
        sid = f"c2c-{secrets.token_hex(8)}"
        worker = self.placement.place(sid, LEGS_NEEDED[MediaService.CLICK_TO_CALL], self.clock.monotonic())
        if worker is None or worker not in self.links:
            if worker is not None:
                self.placement.release(sid)
            return None
        self.placement.arrived(sid)
        session = Session(sid, MediaService.CLICK_TO_CALL, number, extension, worker, self.clock.now())
        session.link = self.links[worker]
        self.sessions[sid] = session
        await self.store.cdr_open(sid, MediaService.CLICK_TO_CALL.value, extension, number, session.started, worker)
        session.set_state(SessionState.ANSWERING)
        session.task = asyncio.create_task(self._run(session), name=f"session-{sid}")
        return sid

    async def edge_failed(self, call_id: str, code: int) -> None:
        """The edge reports the INVITE to the worker failed before reaching it."""
        session = self.sessions.get(call_id)
        if session is not None and session.state is SessionState.RESERVED:
            await self._end(session, code, f"sip_{code}")

    # ----- worker links -----

    async def worker_up(self, link: WorkerLink) -> None:
        """A worker connected with its probed capacity."""
        old = self.links.get(link.name)
        if old is not None and old is not link:
            await self.worker_gone(old)
        self.links[link.name] = link
        self.placement.add_worker(link.name, link.hello.capacity)
        log.info("worker %s up at %s, capacity %d legs", link.name, link.hello.sip, link.hello.capacity)
        if self.local_numbers:
            # Not awaited here: the link's events are pumped only after this returns.
            self._spawn(self._send_local_numbers(link))

    async def _send_local_numbers(self, link: WorkerLink) -> None:
        try:
            await link.command("local_targets", users=sorted(self.local_numbers))
        except RpcError as exc:
            log.warning("worker %s: local_targets refused: %s", link.name, exc)

    async def worker_gone(self, link: WorkerLink) -> None:
        """A worker went away: its sessions end with an error cause."""
        if self.links.get(link.name) is not link:
            return
        del self.links[link.name]
        lost = self.placement.remove_worker(link.name)
        (log.error if lost else log.info)("worker %s gone with %d sessions", link.name, len(lost))
        for call_id in lost:
            session = self.sessions.get(call_id)
            if session is None:
                continue
            if session.task is not None:
                session.events.put_nowait({"event": WORKER_LOST})
            else:
                await self._end(session, 500, WORKER_LOST)

    # ----- events -----

    async def on_event(self, link: WorkerLink, msg: dict[str, Any]) -> None:
        """Dispatch one worker event."""
        name = msg.get("event")
        if name == "leg_new":
            await self._leg_new(link, msg)
        elif name == "recording_closed":
            self._spawn(self._recording_closed(link, msg))
        else:
            key = (link.name, str(msg.get("leg")))
            session = self._by_leg.get(key)
            if session is not None:
                if name == "leg_ended":
                    session.live.discard(key[1])
                    if not session.live:
                        session.legs_gone.set()
                session.events.put_nowait(msg)
            else:
                self._early.setdefault(key, []).append(msg)
                while len(self._early) > MAX_EARLY_LEGS:
                    self._early.popitem(last=False)

    async def _leg_new(self, link: WorkerLink, msg: dict[str, Any]) -> None:
        call_id = str(msg.get("call_id", ""))
        leg = str(msg.get("leg"))
        session = self.sessions.get(call_id)
        if session is None or session.worker != link.name or session.state is not SessionState.RESERVED:
            # Nobody placed this call here: refuse it rather than hold a slot.
            log.warning("unplaced call %s on %s refused", call_id, link.name)
            with contextlib.suppress(RpcError):
                await link.command("hangup", leg=leg, code=503)
            return
        self.placement.arrived(call_id)
        session.link = link
        session.caller_leg = leg
        self.track(session, leg)
        session.set_state(SessionState.ANSWERING)
        session.task = asyncio.create_task(self._run(session), name=f"session-{call_id}")

    def track(self, session: Session, leg: str) -> None:
        session.legs.add(leg)
        session.live.add(leg)
        session.legs_gone.clear()
        self._by_leg[(session.worker, leg)] = session
        for msg in self._early.pop((session.worker, leg), []):
            if msg.get("event") == "leg_ended":
                session.live.discard(leg)
                if not session.live:
                    session.legs_gone.set()
            session.events.put_nowait(msg)

    # ----- flows -----

    async def _run(self, session: Session) -> None:
        code, cause = 200, "normal"
        try:
            await self._flow(session.service)(session)
        except CallEnded as ended:
            code, cause = ended.code, ended.cause
        except Exception:
            log.exception("session %s failed; hanging up the caller", session.call_id)
            code, cause = 500, "controller_error"
        finally:
            await self.hangup_all(session)
            await self._end(session, code, cause)

    def _flow(self, service: MediaService) -> Flow:
        flow = self.flows.get(service)
        if flow is None:
            raise RuntimeError(f"no flow wired for {service.value}")
        return self.wrap_flow(service, flow) if self.wrap_flow is not None else flow

    async def _echo(self, session: Session) -> None:
        link, leg = self.need(session)
        await self.answer_caller(session)
        await link.command("echo", leg=leg)
        await self.mark_answered(session, None)
        session.set_state(SessionState.CONNECTED)
        await self.until_caller_ends(session)

    async def _ring_group(self, session: Session) -> None:
        link, caller_leg = self.need(session)
        group = self.directory.ring_groups[session.target]
        await link.command("answer", leg=caller_leg, code=180)
        session.set_state(SessionState.HUNTING)
        for member in hunt_order(group, session.caller):
            member_leg = await self.ring(session, member, group.ring_seconds)
            if member_leg is None:
                continue
            await self.answer_caller(session)
            await link.command("bridge", a=caller_leg, b=member_leg)
            if group.record:
                base = self.recording_base(session)
                parties, started = [session.caller, member], self.clock.now()
                self.indexer.note_started(base, session.call_id, parties, started)
                data = await link.command("record", legs=[caller_leg, member_leg], path_base=str(base))
                self._recordings[(link.name, str(data["recording"]))] = (session.call_id, parties, started)
            await self.mark_answered(session, member)
            session.set_state(SessionState.CONNECTED)
            ended = await self.until_any_ends(session, {caller_leg, member_leg})
            if ended == member_leg:
                return
            return
        raise CallEnded(480, "no_answer")

    async def _click_to_call(self, session: Session) -> None:
        """The agent's phone first (it shows the number to be called); when it answers, the number."""
        link = session.link
        if link is None:
            raise RuntimeError(f"session {session.call_id} has no worker")
        data = await link.command("dial", uri=f"sip:{session.caller}@{self.edge_uri}",
                                  from_uri=f"sip:{session.target}@{self.edge_uri}", timeout_s=CLICK_RING_S)
        leg = str(data["leg"])
        session.caller_leg = leg
        self.track(session, leg)
        try:
            await self.wait_for(session, {"leg_answered"}, leg, timeout=CLICK_RING_S + 5)
        except TimeoutError:
            raise CallEnded(480, "agent_no_answer") from None
        except CallEnded:
            raise CallEnded(480, "agent_no_answer") from None
        session.caller_answered = True
        decision = route(session.target, session.caller, self.directory)
        if isinstance(decision, Reject):
            raise CallEnded(decision.code, f"click_to_call_{decision.code}")
        if isinstance(decision, ToMedia):
            await self.hand_over(session, decision.service, decision.target)
            return
        assert isinstance(decision, ToExtension)
        session.set_state(SessionState.HUNTING)
        other = await self.ring(session, decision.extension, CLICK_RING_S)
        if other is None:
            raise CallEnded(480, "no_answer")
        await link.command("bridge", a=leg, b=other)
        await self.start_recording(session, [session.caller, decision.extension], [leg, other])
        await self.mark_answered(session, decision.extension)
        session.set_state(SessionState.CONNECTED)
        await self.until_any_ends(session, {leg, other})

    async def answer_caller(self, session: Session) -> None:
        """Answer the caller's leg with 200 once; later calls (after a hand-over) do nothing."""
        if session.caller_answered:
            return
        link, leg = self.need(session)
        await link.command("answer", leg=leg, code=200)
        await self.wait_for(session, {"leg_answered"}, leg, timeout=10)
        session.caller_answered = True

    async def hand_over(self, session: Session, service: MediaService, target: str) -> None:
        """Continue this caller's session in another service's flow (IVR -> queue -> voicemail).

        The caller's leg, worker reservation and CDR stay the same; the flow that takes over
        must not assume the caller is unanswered (use `answer_caller`).
        """
        flow = self._flow(service)
        log.info("session %s: %s %s -> %s %s", session.call_id, session.service.value, session.target,
                 service.value, target)
        session.service, session.target = service, target
        await flow(session)

    async def start_recording(self, session: Session, parties: list[str], legs: list[str], suffix: str = "") -> None:
        """Record each party's leg (merged to one stereo WAV and indexed when the worker closes it);
        `suffix` names a later recording of the same call (after a transfer) apart from the first."""
        link, _ = self.need(session)
        base = self.recording_base(session)
        done = int(session.data.get("recordings_started", 0))
        session.data["recordings_started"] = done + 1
        if not suffix and done:
            suffix = f"r{done}"  # a flow recording again in the same session never overwrites the first
        if suffix:
            base = base.with_name(f"{base.name}-{suffix}")
        started = self.clock.now()
        self.indexer.note_started(base, session.call_id, parties, started)
        data = await link.command("record", legs=legs, path_base=str(base))
        self._recordings[(link.name, str(data["recording"]))] = (session.call_id, parties, started)

    async def ring(self, session: Session, member: str, ring_seconds: int) -> str | None:
        """Dial one member; return its leg if it answered in time, else None."""
        link, caller_leg = self.need(session)
        try:
            data = await link.command(
                "dial",
                uri=f"sip:{member}@{self.edge_uri}",
                from_uri=f"sip:{session.caller}@{self.edge_uri}",
                timeout_s=ring_seconds,
            )
        except RpcError as exc:
            status: dict[str, Any] = {}
            with contextlib.suppress(RpcError):
                status = await link.command("status")
            log.warning(
                "dial %s on %s failed: %s (worker: %s legs in use; placement: %s)",
                member, link.name, exc, status.get("legs_in_use"), self.placement.load().get(link.name),
            )
            return None
        leg = str(data["leg"])
        self.track(session, leg)
        deadline = self.clock.monotonic() + ring_seconds
        while True:
            left = deadline - self.clock.monotonic()
            if left <= 0:
                with contextlib.suppress(RpcError):
                    await link.command("hangup", leg=leg)
                await self.wait_ended(session, leg)
                return None
            try:
                msg = await asyncio.wait_for(session.events.get(), left)
            except TimeoutError:
                continue
            self.check_caller(session, msg, caller_leg)
            if msg.get("leg") != leg:
                continue
            if msg.get("event") == "leg_answered":
                return leg
            if msg.get("event") == "leg_ended":
                return None

    async def wait_ended(self, session: Session, leg: str, timeout: float = 5.0) -> None:
        """Wait until a leg we hung up reports its end (bounded)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while True:
                    msg = await session.events.get()
                    self.check_caller(session, msg, session.caller_leg or "")
                    if msg.get("leg") == leg and msg.get("event") == "leg_ended":
                        return

    def check_caller(self, session: Session, msg: dict[str, Any], caller_leg: str) -> None:
        """Raise CallEnded when the message says the caller is gone."""
        if msg.get("event") == WORKER_LOST:
            raise CallEnded(500, WORKER_LOST)
        if msg.get("event") == "leg_ended" and msg.get("leg") == caller_leg:
            code = int(msg.get("code") or 0)
            answered = session.answered_by is not None or session.service is MediaService.ECHO
            if session.state is SessionState.CONNECTED and answered:
                raise CallEnded(200, "normal")
            raise CallEnded(487 if code in (0, 200, 487) else code, "caller_hangup")

    async def wait_for(self, session: Session, names: set[str], leg: str, timeout: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                msg = await session.events.get()
                self.check_caller(session, msg, session.caller_leg or "")
                if msg.get("leg") == leg and msg.get("event") in names:
                    return msg

    async def until_caller_ends(self, session: Session) -> None:
        while True:
            msg = await session.events.get()
            self.check_caller(session, msg, session.caller_leg or "")

    async def until_any_ends(self, session: Session, legs: set[str]) -> str:
        while True:
            msg = await session.events.get()
            if msg.get("event") == WORKER_LOST:
                raise CallEnded(500, WORKER_LOST)
            if msg.get("event") == "leg_ended" and msg.get("leg") in legs:
                return str(msg["leg"])

    async def mark_answered(self, session: Session, by: str | None) -> None:
        session.answered_by = by or session.target
        await self.store.cdr_answered(session.call_id, self.clock.now(), session.answered_by)

    def need(self, session: Session) -> tuple[WorkerLink, str]:
        if session.link is None or session.caller_leg is None:
            raise RuntimeError(f"session {session.call_id} has no caller leg")
        return session.link, session.caller_leg

    def recording_base(self, session: Session) -> Path:
        day = session.started
        folder = self.data_dir / "recordings" / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
        folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", session.call_id)[:80]
        return folder / f"{day:%H%M%S}-{safe}"

    async def hangup_all(self, session: Session, timeout: float = 5.0) -> None:
        """Hang up every live leg and wait (bounded) until the worker reports them ended:
        until then pjsua still holds their call slots, and the reservation must too."""
        link = session.link
        if link is None or link.closed.is_set():
            return
        for leg in list(session.live):
            with contextlib.suppress(RpcError):
                await link.command("hangup", leg=leg, code=480)
        if session.live:
            try:
                await asyncio.wait_for(session.legs_gone.wait(), timeout)
            except TimeoutError:
                log.warning("session %s: legs %s not reported ended in %.0f s", session.call_id, session.live, timeout)

    async def end(self, session: Session, code: int, cause: str) -> None:
        """Close a session that has no flow task of its own (an originated callback): CDR, slots."""
        await self._end(session, code, cause)

    async def _end(self, session: Session, code: int, cause: str) -> None:
        if session.state is not SessionState.ENDED:
            session.set_state(SessionState.ENDED)
        self.sessions.pop(session.call_id, None)
        for leg in session.legs:
            self._by_leg.pop((session.worker, leg), None)
        self.placement.release(session.call_id)
        await self.store.cdr_close(session.call_id, self.clock.now(), code, cause)

    async def _recording_closed(self, link: WorkerLink, msg: dict[str, Any]) -> None:
        key = (link.name, str(msg.get("recording")))
        info = self._recordings.pop(key, None)
        if info is None:
            log.warning("recording %s from %s is unknown", key, link.name)
            return
        call_id, parties, started = info
        files = [Path(f) for f in msg.get("files", [])]
        await self.indexer.finish(call_id, parties, files, started)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def drain(self) -> None:
        """Wait for background work (recordings being indexed)."""
        while self._bg:
            await asyncio.gather(*list(self._bg), return_exceptions=True)
