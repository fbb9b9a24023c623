"""Supervision of a live call: listen, whisper, barge, switchable during the call.

The supervisor's phone is dialled from the call's worker (the bridge is per worker) and
joined with one-way connections (`connect`/`disconnect`, docs/media-rpc.md):
listen = caller -> sup + agent -> sup; whisper = listen + sup -> agent; barge = whisper +
sup -> caller. Switching mode changes only the connections that differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from appliance.controller.parking import Parking, park_timeout
from appliance.controller.prompts import Prompts
from appliance.controller.rpc import RpcError
from appliance.controller.sessions import SessionManager
from appliance.controller.transfer import FEATURED, CallFeatures, LiveCall, Phase, next_event
from appliance.domain.dialplan import MediaService
from appliance.domain.errors import DomainError
from appliance.domain.session_state import SessionState

log = logging.getLogger(__name__)

SUPERVISOR_RING_S = 30
Pair = tuple[str, str]


class Mode(Enum):
    """How the supervisor joins the call."""

    LISTEN = "listen"  # hears both, heard by nobody
    WHISPER = "whisper"  # hears both, heard by the agent only
    BARGE = "barge"  # hears both, heard by both


def connections(mode: Mode, caller: str, agent: str, supervisor: str) -> frozenset[Pair]:
    """The one-way (src, dst) audio connections a mode needs (pure)."""
    pairs = {(caller, supervisor), (agent, supervisor)}
    if mode in (Mode.WHISPER, Mode.BARGE):
        pairs.add((supervisor, agent))
    if mode is Mode.BARGE:
        pairs.add((supervisor, caller))
    return frozenset(pairs)


def switch(old: frozenset[Pair], new: frozenset[Pair]) -> tuple[list[Pair], list[Pair]]:
    """(to disconnect, to connect) to go from `old` to `new`, in a stable order (pure)."""
    return sorted(old - new), sorted(new - old)


class SupervisionError(DomainError):
    """A supervision request that cannot be done; `error_id` is stable for the API."""

    def __init__(self, error_id: str, message: str, status: int) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message
        self.status = status


class SupervisionState(Enum):
    """Where a supervision is."""

    RINGING = "ringing"  # the supervisor's phone is being called
    ACTIVE = "active"  # joined in `mode`
    ENDED = "ended"


_STATES: dict[SupervisionState, frozenset[SupervisionState]] = {
    SupervisionState.RINGING: frozenset({SupervisionState.ACTIVE, SupervisionState.ENDED}),
    SupervisionState.ACTIVE: frozenset({SupervisionState.ENDED}),
    SupervisionState.ENDED: frozenset(),
}


@dataclass
class Supervision:
    """One supervisor on one call."""

    call_id: str
    supervisor: str
    mode: Mode
    leg: str
    state: SupervisionState = SupervisionState.RINGING
    applied: frozenset[Pair] = frozenset()
    agent_leg: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def set_state(self, new: SupervisionState) -> None:
        """Move through the state table; an illegal move raises."""
        if new not in _STATES[self.state]:
            raise SupervisionError("supervision_state", f"{self.state.value} -> {new.value} is not allowed", 409)
        log.info("supervision of %s by %s: %s -> %s", self.call_id, self.supervisor, self.state.value, new.value)
        self.state = new

    def public(self) -> dict[str, str]:
        """What the API shows."""
        return {"call_id": self.call_id, "supervisor_extension": self.supervisor, "mode": self.mode.value,
                "state": self.state.value}


_SERVICES: weakref.WeakKeyDictionary[SessionManager, SupervisionService] = weakref.WeakKeyDictionary()


def service_of(sessions: SessionManager) -> SupervisionService:
    """The supervision service wired on this controller's sessions."""
    return _SERVICES[sessions]


class SupervisionService:
    """Starts, switches and stops supervision of wrapped (queue, ring-group, IVR/DID, outbound) calls."""

    def __init__(self, sessions: SessionManager, features: CallFeatures,
                 ring_s: int = SUPERVISOR_RING_S) -> None:
        self.sessions = sessions
        self.features = features
        self.ring_s = ring_s
        self.active: dict[str, Supervision] = {}
        self.listeners: list[Callable[[], None]] = []  # told of every start, mode switch and end (live views)
        _SERVICES[sessions] = self

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    def list(self) -> list[Supervision]:
        """Supervisions not ended."""
        return list(self.active.values())

    def get(self, call_id: str) -> Supervision:
        """The supervision of a call, or a not-found error."""
        sup = self.active.get(call_id)
        if sup is None:
            raise SupervisionError("supervision_not_found", f"call {call_id} is not being supervised", 404)
        return sup

    def _live_call(self, call_id: str) -> tuple[LiveCall, str, str]:
        call = self.features.calls.get(call_id)
        session = self.sessions.sessions.get(call_id)
        if call is None or session is None or session.service not in FEATURED:
            raise SupervisionError("call_not_found", f"no live call {call_id} on the media layer", 404)
        agent = call.party_of_flow()
        caller = session.caller_leg
        if (session.state is not SessionState.CONNECTED or call.phase is Phase.PARKED
                or agent is None or caller is None):
            raise SupervisionError("call_not_talking", f"call {call_id} has no caller talking to an agent now", 409)
        if self.features.staff_caller(session) and not call.kept_name:
            caller, agent = agent, caller  # a desk phone's outbound call: the desk phone is the agent
        return call, caller, agent

    async def start(self, call_id: str, supervisor: str, mode: Mode) -> Supervision:
        """Call the supervisor's phone from the call's worker; it joins in `mode` once answered."""
        if supervisor not in self.sessions.directory.extensions:
            raise SupervisionError("extension_not_found", f"no extension {supervisor}", 422)
        if call_id in self.active:
            raise SupervisionError("already_supervised", f"call {call_id} is already supervised", 409)
        call, _, _ = self._live_call(call_id)
        s, m = call.session, self.sessions
        if supervisor in (s.caller, s.answered_by, call.party):
            raise SupervisionError("supervisor_on_call", f"extension {supervisor} is a party of the call", 409)
        if not m.placement.add_legs(call_id, 1):
            raise SupervisionError("worker_full", "the call's worker has no room for another leg", 409)
        link, _ = m.need(s)
        try:
            data = await link.command(
                "dial", uri=f"sip:{supervisor}@{m.edge_uri}", from_uri=f"sip:{s.caller}@{m.edge_uri}",
                timeout_s=self.ring_s,
            )
        except RpcError as exc:
            m.placement.remove_legs(call_id, 1)
            raise SupervisionError("dial_failed", f"the worker could not call {supervisor}: {exc}", 409) from None
        leg = str(data["leg"])
        q = call.own(leg)
        m.track(s, leg)
        sup = Supervision(call_id, supervisor, mode, leg)
        self.active[call_id] = sup
        self._changed()
        self.features.spawn(call, self._run(call, sup, q), "supervision")
        return sup

    async def change(self, call_id: str, mode: Mode) -> Supervision:
        """Switch mode; applied at once if joined, else when the supervisor answers."""
        sup = self.get(call_id)
        async with sup.lock:
            sup.mode = mode
            if sup.state is SupervisionState.ACTIVE:
                await self._apply(sup)
        self._changed()
        return sup

    async def stop(self, call_id: str) -> None:
        """Hang up the supervisor's leg."""
        sup = self.get(call_id)
        session = self.sessions.sessions.get(call_id)
        link = self.sessions.links.get(session.worker) if session is not None else None
        if link is not None:
            with contextlib.suppress(RpcError):
                await link.command("hangup", leg=sup.leg)

    async def _apply(self, sup: Supervision) -> None:
        call, caller_leg, agent_leg = self._live_call(sup.call_id)
        link, _ = self.sessions.need(call.session)
        if agent_leg != sup.agent_leg:
            sup.applied = frozenset(p for p in sup.applied if sup.agent_leg not in p)  # that leg is gone
            sup.agent_leg = agent_leg
        wanted = connections(sup.mode, caller_leg, agent_leg, sup.leg)
        drop, add = switch(sup.applied, wanted)
        for src, dst in drop:
            with contextlib.suppress(RpcError):
                await link.command("disconnect", src=src, dst=dst)
        for src, dst in add:
            await link.command("connect", src=src, dst=dst)
        sup.applied = wanted
        log.info("call %s: supervisor %s in %s mode", sup.call_id, sup.supervisor, sup.mode.value)

    async def _run(self, call: LiveCall, sup: Supervision, q: asyncio.Queue[dict[str, object]]) -> None:
        m = self.sessions
        try:
            msg = await next_event(q, sup.leg, {"leg_answered", "leg_ended"}, None)
            if msg["event"] == "leg_answered":
                async with sup.lock:
                    sup.set_state(SupervisionState.ACTIVE)
                    await self._apply(sup)
                self._changed()
                await next_event(q, sup.leg, {"leg_ended"}, None)
        except SupervisionError as exc:
            log.warning("call %s: supervision stopped: %s", sup.call_id, exc.message)
            link, _ = m.need(call.session)
            with contextlib.suppress(RpcError):
                await link.command("hangup", leg=sup.leg)
        finally:
            if sup.state is not SupervisionState.ENDED:
                sup.set_state(SupervisionState.ENDED)
            self.active.pop(sup.call_id, None)
            self._changed()
            m.placement.remove_legs(sup.call_id, 1)
            with contextlib.suppress(asyncio.CancelledError):
                await call.release(sup.leg)


def wire_call_features(sessions: SessionManager, prompts: Prompts, parking: object = None) -> CallFeatures:
    """Transfer, parking and supervision on queue, ring-group, IVR/DID and outbound calls (the
    composition root's part);
    `parking` is the box's `extra.parking` settings (raises ParkingSettingsError when invalid)."""
    timeout_s = park_timeout(parking)
    features = CallFeatures(sessions)
    sessions.wrap_flow = features.wrap_for
    park = Parking(sessions, features, prompts, timeout_s=timeout_s)
    sessions.flows[MediaService.PARK] = park.run
    sessions.route_sources.append(park.routes)
    sessions.refresh_routes()
    supervision = SupervisionService(sessions, features)
    if sessions.queues is not None:  # the wallboard hears of supervision changes as it does of ACD events
        supervision.listeners.append(sessions.queues.changes.mark)
    return features
