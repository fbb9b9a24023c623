"""Call features on a live media session: blind and attended transfer by REFER, and the
hooks that parking and supervision use.

A queue or ring-group flow (another module) talks to its legs through `session.events`.
`CallFeatures.wrap(flow)` runs that flow unchanged, but first gives the session a
`FeatureQueue`: a worker event that belongs to a feature (a `leg_transfer`, a leg a feature
dialled, the `*70` park code) goes to the feature instead of the flow. When a feature takes
the call over (the agent transferred or parked it), the agent's leg is hung up, the flow
sees its party leave and returns as after any call, and the wrapper carries on with the
caller: talking to the new party, or parked. The session, its worker reservation and its
CDR stay the same throughout.

Transfer, as the worker does it (docs/transfers.md): the worker accepts the REFER (202)
and dials the Refer-To target itself, with the Replaces header for an attended transfer;
the controller gets `leg_transfer {leg, new_leg, target, replaces}`. When the new leg
answers, the caller is bridged to it and the transferer's leg is hung up; pjsua has then
sent the transferer NOTIFY sipfrag 200. If the target fails, pjsua NOTIFYs the failure,
and the caller stays with the transferer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from appliance.controller.rpc import RpcError
from appliance.controller.sessions import CallEnded, Flow, Session, SessionManager
from appliance.domain.dialplan import MediaService
from appliance.domain.errors import DomainError
from appliance.domain.session_state import SessionState

if TYPE_CHECKING:
    from appliance.controller.parking import Parking

log = logging.getLogger(__name__)

TRANSFER_RING_S = 30.0
# Services whose calls get transfer, parking and supervision. Every other session is wrapped
# too, but only so that a REFER on it is refused (the worker would otherwise ring the target
# for nobody): voicemail has only the caller on the line, nobody on the box's side to transfer.
FEATURED = frozenset({MediaService.QUEUE, MediaService.RING_GROUP, MediaService.IVR, MediaService.OUTBOUND})
PARK_CODE = "*70"
RINGBACK = {"freq1": 425, "on_ms": 1000, "off_ms": 4000}  # as the IVR's (controller/ivr.py)
Event = dict[str, Any]


class Phase(Enum):
    """Who drives a wrapped call: its own flow, or a feature after a takeover."""

    FLOW = "flow"  # the queue / ring-group flow runs; features only listen
    TALKING = "talking"  # taken over: the caller talks to a transfer target or retriever
    PARKED = "parked"  # taken over: the caller hears music in a park slot
    ENDED = "ended"


_PHASES: dict[Phase, frozenset[Phase]] = {
    Phase.FLOW: frozenset({Phase.TALKING, Phase.PARKED, Phase.ENDED}),
    Phase.TALKING: frozenset({Phase.TALKING, Phase.PARKED, Phase.ENDED}),
    Phase.PARKED: frozenset({Phase.TALKING, Phase.ENDED}),
    Phase.ENDED: frozenset(),
}


class IllegalPhase(DomainError):
    """A call feature tried a move its phase does not allow."""


class FeatureQueue(asyncio.Queue[Event]):
    """A session's event queue that lets the feature layer take its events first."""

    def __init__(self, divert: Callable[[Event], bool]) -> None:
        super().__init__()
        self._divert = divert

    def put_nowait(self, item: Event) -> None:
        """Queue an event for the flow unless a feature took it."""
        if not self._divert(item):
            super().put_nowait(item)


@dataclass
class LiveCall:
    """Feature state of one wrapped session."""

    session: Session
    phase: Phase = Phase.FLOW
    flow_done: asyncio.Event = field(default_factory=asyncio.Event)
    party_leg: str | None = None  # the leg bridged to the caller after a takeover
    party: str = ""  # who that is (extension)
    owners: dict[str, asyncio.Queue[Event]] = field(default_factory=dict)  # legs a feature drives
    digits: dict[str, str] = field(default_factory=dict)  # DTMF heard per leg (for *70)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    busy: set[asyncio.Task[Any]] = field(default_factory=set)  # transfers/parks under way
    next_step: Callable[[], Awaitable[None]] | None = None  # what runs once the flow returned
    transfers: int = 0
    kept_name: str = ""  # who the kept leg is, when it is not the session's caller (see keep)

    @property
    def caller_name(self) -> str:
        """Who is on the kept (caller) leg: the session's caller, or whom a desk phone transferred."""
        return self.kept_name or self.session.caller

    def keep(self, leg: str, name: str) -> None:
        """The desk phone that placed the call handed its far end on: that leg is kept from now."""
        log.info("call %s: the kept leg is now %s (%s)", self.session.call_id, leg, name)
        self.session.caller_leg, self.kept_name = leg, name

    def set_phase(self, new: Phase) -> None:
        """Move to `new` through the phase table, logging old -> new."""
        if new not in _PHASES[self.phase]:
            raise IllegalPhase(f"call {self.session.call_id}: {self.phase.value} -> {new.value} is not allowed")
        log.info("call %s: %s -> %s", self.session.call_id, self.phase.value, new.value)
        self.phase = new

    @property
    def taken_over(self) -> bool:
        """A feature drives the call now."""
        return self.phase in (Phase.TALKING, Phase.PARKED)

    def party_of_flow(self) -> str | None:
        """The leg talking with the caller: the takeover's party, else the flow's other live leg."""
        if self.party_leg is not None:
            return self.party_leg
        others = self.session.live - {self.session.caller_leg or ""} - set(self.owners)
        return next(iter(others)) if len(others) == 1 else None

    def own(self, leg: str) -> asyncio.Queue[Event]:
        """From now on this leg's events go to the returned queue, not to the flow."""
        q: asyncio.Queue[Event] = asyncio.Queue()
        self.owners[leg] = q
        return q

    async def release(self, leg: str) -> None:
        """Give a leg's events back to the session (once the flow is done: it would drop them)."""
        await self.flow_done.wait()
        q = self.owners.pop(leg, None)
        while q is not None and not q.empty():
            self.session.events.put_nowait(q.get_nowait())


async def next_event(q: asyncio.Queue[Event], leg: str, names: set[str], timeout: float | None) -> Event:
    """The next event of `leg` named one of `names` from a feature's own queue."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await q.get()
            if msg.get("leg") == leg and msg.get("event") in names:
                return msg


class CallFeatures:
    """Transfer and the hooks parking and supervision hang on a wrapped session."""

    def __init__(self, sessions: SessionManager, ring_s: float = TRANSFER_RING_S) -> None:
        self.sessions = sessions
        self.ring_s = ring_s
        self.calls: dict[str, LiveCall] = {}
        self.parking: Parking | None = None  # set by Parking when it is wired

    # ----- the wrapper --------------------------------------------------------------------

    def wrap_for(self, service: MediaService, flow: Flow) -> Flow:
        """`flow` with call features (SessionManager.wrap_flow); other services refuse REFERs."""
        return self.wrap(flow)

    def wrap(self, flow: Flow) -> Flow:
        """The same flow, with transfer, parking and supervision available on its call."""

        async def with_features(session: Session) -> None:
            if session.call_id in self.calls:  # handed over from another wrapped flow
                await flow(session)
                return
            call = self._attach(session)
            try:
                try:
                    await flow(session)
                except CallEnded:
                    if not (call.taken_over and session.caller_leg in session.live):
                        raise
                finally:
                    call.flow_done.set()
                while call.busy:  # a transferer may hang up before its target answers
                    await asyncio.wait(list(call.busy))
                while call.next_step is not None:
                    step, call.next_step = call.next_step, None
                    await step()
            finally:
                await self._detach(call)

        return with_features

    def _attach(self, session: Session) -> LiveCall:
        call = LiveCall(session)
        old = session.events
        session.events = FeatureQueue(lambda msg: self._divert(call, msg))
        while not old.empty():
            session.events.put_nowait(old.get_nowait())
        self.calls[session.call_id] = call
        return call

    async def _detach(self, call: LiveCall) -> None:
        if call.phase is not Phase.ENDED:
            call.set_phase(Phase.ENDED)
        self.calls.pop(call.session.call_id, None)
        for task in list(call.tasks):
            task.cancel()
        if call.tasks:
            await asyncio.gather(*call.tasks, return_exceptions=True)

    def spawn(self, call: LiveCall, coro: Awaitable[Any], name: str, busy: bool = False) -> None:
        """Run a feature task that lives at most as long as the call (`busy`: the call must
        not end while it runs, even if the flow returns)."""
        task = asyncio.ensure_future(coro)
        task.set_name(f"{name}-{call.session.call_id}")
        call.tasks.add(task)
        if busy:
            call.busy.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            call.tasks.discard(t)
            call.busy.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("call %s: %s failed", call.session.call_id, name, exc_info=t.exception())

        task.add_done_callback(done)

    def _divert(self, call: LiveCall, msg: Event) -> bool:
        """Take feature events away from the flow (True = taken)."""
        leg = str(msg.get("leg"))
        name = msg.get("event")
        if leg in call.owners:
            call.owners[leg].put_nowait(msg)
            return True
        if name == "leg_transfer":
            # Who talks with the caller now: the transferer's leg may end before the task runs.
            party = call.party_of_flow()
            self.spawn(call, self._transfer(call, msg, party), "transfer", busy=True)
            return True
        if (name == "dtmf" and leg != call.session.caller_leg and self.parking is not None
                and call.session.service in FEATURED
                and not self.staff_caller(call.session)):  # a far end's digits never park a desk phone
            heard = (call.digits.get(leg, "") + str(msg.get("digit", "")))[-len(PARK_CODE):]
            call.digits[leg] = heard
            if heard == PARK_CODE and call.session.state is SessionState.CONNECTED and not call.taken_over:
                call.digits[leg] = ""
                self.spawn(call, self.parking.park_by_code(call, leg), "park", busy=True)
        return False

    # ----- transfer -----------------------------------------------------------------------

    def staff_caller(self, s: Session) -> bool:
        """True for a call one of our desk phones placed to the outside (it may transfer its far end)."""
        return s.service is MediaService.OUTBOUND and s.caller in self.sessions.directory.extensions

    async def _transfer(self, call: LiveCall, msg: Event, party: str | None) -> None:
        """A transferer REFERred; the worker is dialling the target as `new_leg`."""
        s, m = call.session, self.sessions
        link, _ = m.need(s)
        transferer, new_leg = str(msg["leg"]), str(msg["new_leg"])
        target = str(msg.get("target_user") or msg.get("target"))
        kind = "attended" if msg.get("replaces") else "blind"
        q = call.own(new_leg)
        m.track(s, new_leg)
        extra = m.placement.add_legs(s.call_id, 1)
        try:
            refused = self._refusal(call, transferer, extra, party)
            if refused:
                log.warning("call %s: %s transfer by %s to %s refused: %s", s.call_id, kind, transferer, target,
                            refused)
                with contextlib.suppress(RpcError):
                    await link.command("hangup", leg=new_leg)
                await self._wait_gone(q, new_leg)
                return
            log.info("call %s: %s transfer by %s to %s on %s", s.call_id, kind, transferer, target, new_leg)
            parking = self.parking
            if parking is not None and parking.is_slot(target):
                parker = self._who(call, transferer)
                self._hand_on(call, transferer, party)
                # A transfer into a park slot: the caller is parked here and now. The worker
                # knows the slots (local_targets) and has NOTIFYed the transferer 200; its own
                # INVITE to the slot (the SIP edge relays worker INVITEs to phones only) is
                # hung up here.
                await parking.park(call, target, parker=parker)
                for leg in (new_leg, transferer):
                    with contextlib.suppress(RpcError):
                        await link.command("hangup", leg=leg)
                await self._wait_gone(q, new_leg)
                return
            kept = party if transferer == s.caller_leg else s.caller_leg  # who stays: a desk phone's far end
            ringback = await self._ringback(call, kept, transferer) if kind == "blind" and kept else None
            answered = await self._answered(q, new_leg, link)
            if ringback is not None:
                with contextlib.suppress(RpcError):
                    await link.command("stop_play", player=ringback)
            if not answered:
                if transferer in s.live:
                    log.info("call %s: transfer target %s did not answer; the caller stays", s.call_id, target)
                    if ringback is not None:
                        with contextlib.suppress(RpcError):
                            await link.command("bridge", a=kept, b=transferer)
                elif s.service is MediaService.QUEUE and s.caller_leg in s.live and not call.taken_over:
                    queue = s.target
                    log.info("call %s: transfer target %s failed, the transferer is gone: back to queue %s",
                             s.call_id, target, queue)
                    s.data.setdefault("transfers", []).append({"to": queue, "how": "back_to_queue"})
                    call.next_step = lambda: m.hand_over(s, MediaService.QUEUE, queue)
                return
            # A REFER sent the moment the agent answered may beat the flow's own bridge and
            # recording commands: let the flow finish connecting first (bounded).
            for _ in range(100):
                if s.state is SessionState.CONNECTED or call.flow_done.is_set():
                    break
                await asyncio.sleep(0.05)
            self._hand_on(call, transferer, party)
            await self.take_over(call, new_leg, target, kind, transferer)
        finally:
            if extra:  # one leg fewer either way: the transferer's or the target's
                m.placement.remove_legs(s.call_id, 1)
            await call.release(new_leg)

    async def _ringback(self, call: LiveCall, kept: str, transferer: str) -> str | None:
        """While a blind transfer's target rings, the kept party hears ringback instead of the transferer."""
        s = call.session
        if s.state is not SessionState.CONNECTED:
            return None  # the flow is still connecting the two: leave its bridge alone
        link, _ = self.sessions.need(s)
        try:
            with contextlib.suppress(RpcError):
                await link.command("unbridge", a=kept, b=transferer)
            return str((await link.command("tone", leg=kept, loop=True, **RINGBACK))["player"])
        except RpcError as exc:
            log.warning("call %s: no ringback during the transfer: %s", s.call_id, exc)
            return None

    def _refusal(self, call: LiveCall, transferer: str, extra: bool, party: str | None) -> str:
        s = call.session
        if s.service in (MediaService.VOICEMAIL, MediaService.VOICEMAIL_MAIN):
            return "a call in voicemail is not transferable: only the caller is on the line"
        if s.service not in FEATURED:
            return f"a {s.service.value} call is not transferable"
        if not extra:
            return "the worker has no room for the target's leg"
        if s.state is SessionState.ENDED or call.phase is Phase.PARKED:
            return f"the call is {s.state.value}/{call.phase.value}, not talking"
        if transferer == s.caller_leg:
            if not self.staff_caller(s) or call.kept_name:
                return "the caller's own phone cannot transfer the party it called away"
            if party is None:
                return "the desk phone's call has no far end to transfer"
            return ""
        if transferer != party:
            return "the transferer is not the party talking with the caller"
        return ""

    def _hand_on(self, call: LiveCall, transferer: str, party: str | None) -> None:
        """A desk phone transferring its own outbound call: its far end becomes the kept leg."""
        s = call.session
        if transferer == s.caller_leg and party is not None:
            call.keep(party, s.target)

    async def _answered(self, q: asyncio.Queue[Event], leg: str, link: Any) -> bool:
        try:
            msg = await next_event(q, leg, {"leg_answered", "leg_ended"}, self.ring_s)
            if msg["event"] == "leg_ended":
                log.info("transfer leg %s ended: %s %s", leg, msg.get("code"), msg.get("reason"))
        except TimeoutError:
            with contextlib.suppress(RpcError):
                await link.command("hangup", leg=leg)
            await self._wait_gone(q, leg)
            return False
        return msg["event"] == "leg_answered"

    async def _wait_gone(self, q: asyncio.Queue[Event], leg: str) -> None:
        with contextlib.suppress(TimeoutError):
            await next_event(q, leg, {"leg_ended"}, 5.0)

    def _who(self, call: LiveCall, leg: str) -> str:
        if leg == call.party_leg:
            return call.party
        if leg == call.session.caller_leg:
            return call.session.caller  # a desk phone parking its own outbound call
        return call.session.answered_by or ""

    async def take_over(self, call: LiveCall, new_leg: str, party: str, why: str, old_leg: str | None) -> None:
        """Bridge the caller to `new_leg`, record that pair, hang up `old_leg`; talk until one ends."""
        s, m = call.session, self.sessions
        link, caller_leg = m.need(s)
        if old_leg is not None:
            with contextlib.suppress(RpcError):
                await link.command("unbridge", a=caller_leg, b=old_leg)
        await link.command("bridge", a=caller_leg, b=new_leg)
        previous = call.party_leg
        call.party_leg, call.party = new_leg, party
        call.transfers += 1
        s.data.setdefault("transfers", []).append({"to": party, "how": why})
        call.set_phase(Phase.TALKING)
        call.next_step = lambda: self.talk(call)
        await self.record_pair(call, [call.caller_name, party], [caller_leg, new_leg])
        if old_leg is not None:
            with contextlib.suppress(RpcError):
                await link.command("hangup", leg=old_leg)
        if previous is not None and previous != old_leg:
            with contextlib.suppress(RpcError):
                await link.command("hangup", leg=previous)

    async def record_pair(self, call: LiveCall, parties: list[str], legs: list[str]) -> None:
        """Record the new pair as another recording of the same call (indexed with its call id)."""
        s, m = call.session, self.sessions
        try:
            await m.start_recording(s, parties, legs, suffix=f"x{call.transfers}")
        except RpcError as exc:
            log.warning("call %s: recording after transfer failed: %s", s.call_id, exc)

    async def talk(self, call: LiveCall) -> None:
        """After a takeover: until the caller or the current party hangs up (parties may change)."""
        s, m = call.session, self.sessions
        _, caller_leg = m.need(s)
        while True:
            party = call.party_leg
            if party is None or party not in s.live or caller_leg not in s.live:
                return
            ended = await m.until_any_ends(s, {caller_leg, party})
            if ended == caller_leg or call.party_leg == party:
                return  # the caller left, or the party did without handing on
