"""Call parking: slots 7001-7009 (701-709 are queue numbers), music on hold, retrieval from
any phone on the parked call's worker (pinned placement), and a timeout that rings the parker.

Park a call: press *70 during it (DTMF, RFC 2833 or SIP INFO) — the first free slot is
taken — or blind-transfer it to a slot number. Retrieve it: dial the slot. See
docs/transfers.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from appliance.controller.prompts import MOH, Prompts
from appliance.controller.rpc import RpcError, WorkerLink
from appliance.controller.sessions import CallEnded, Session, SessionManager
from appliance.controller.transfer import CallFeatures, LiveCall, Phase
from appliance.domain.dialplan import MediaService, ToMedia
from appliance.domain.session_state import SessionState

log = logging.getLogger(__name__)

PARK_SLOTS = tuple(str(n) for n in range(7001, 7010))
PARK_TIMEOUT_S = 60.0
PARK_TIMEOUT_RANGE = (3.0, 3600.0)
RETURN_RING_S = 20
TONE_PARKED = {"freq1": 880, "on_ms": 150, "off_ms": 50}


@dataclass
class ParkedCall:
    """A caller waiting in a slot."""

    slot: str
    call: LiveCall
    parker: str
    since: datetime
    retriever: asyncio.Future[tuple[Session, str]] = field(default_factory=asyncio.Future)
    over: asyncio.Event = field(default_factory=asyncio.Event)  # the parked caller's session ended
    retriever_gone: asyncio.Event = field(default_factory=asyncio.Event)  # the retriever's ended


class SlotError(Exception):
    """No slot can take the call."""


async def cancel(task: asyncio.Future[Any]) -> None:
    """Cancel a task and wait until it is gone."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def first_of(*aws: Awaitable[object]) -> None:
    """Wait until the first of `aws` is done; cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            await cancel(t)


class ParkingSettingsError(ValueError):
    """The box's `extra.parking` settings are not valid; the text says which and why."""


def park_timeout(raw: object) -> float:
    """The park timeout from the box's `extra.parking` settings (default 60 s), validated."""
    if raw is None:
        return PARK_TIMEOUT_S
    if not isinstance(raw, dict):
        raise ParkingSettingsError(f"extra.parking must be an object, got {raw!r}")
    unknown = sorted(set(raw) - {"timeout_s"})
    if unknown:
        raise ParkingSettingsError(f"extra.parking: unknown settings {', '.join(unknown)} (known: timeout_s)")
    value = raw.get("timeout_s", PARK_TIMEOUT_S)
    lo, hi = PARK_TIMEOUT_RANGE
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ParkingSettingsError(
            f"extra.parking.timeout_s must be a number of seconds from {lo:g} to {hi:g}, got {value!r}")
    return float(value)


def first_free(slots: tuple[str, ...], taken: set[str]) -> str | None:
    """The lowest free slot, or None when all are taken."""
    return next((s for s in slots if s not in taken), None)


class Parking:
    """The park slots and the PARK service's flow."""

    def __init__(
        self,
        sessions: SessionManager,
        features: CallFeatures,
        prompts: Prompts,
        timeout_s: float = PARK_TIMEOUT_S,
        slots: tuple[str, ...] = PARK_SLOTS,
    ) -> None:
        self.sessions = sessions
        self.features = features
        self.prompts = prompts
        self.timeout_s = timeout_s
        self.slots = slots
        self.parked: dict[str, ParkedCall] = {}
        features.parking = self
        sessions.local_numbers.update(slots)

    def routes(self) -> dict[str, ToMedia]:
        """The slot numbers, for `sessions.route_sources`."""
        return {slot: ToMedia(MediaService.PARK, slot) for slot in self.slots}

    def is_slot(self, number: str) -> bool:
        """True for a park slot number."""
        return number in self.slots

    def status(self) -> list[dict[str, str]]:
        """What is parked where (for logs and the API)."""
        return [
            {"slot": p.slot, "call_id": p.call.session.call_id, "caller": p.call.caller_name,
             "parker": p.parker, "since": p.since.isoformat()}
            for p in sorted(self.parked.values(), key=lambda p: p.slot)
        ]

    # ----- parking ------------------------------------------------------------------------

    async def park_by_code(self, call: LiveCall, parker_leg: str) -> None:
        """*70 heard on the party's leg: park the caller in the first free slot."""
        link, _ = self.sessions.need(call.session)
        slot = first_free(self.slots, set(self.parked))
        if slot is None:
            log.warning("call %s: *70 but every park slot is taken", call.session.call_id)
            with contextlib.suppress(RpcError):
                await link.command("tone", leg=parker_leg, freq1=480, freq2=620, on_ms=250, off_ms=250, loop=False)
            return
        parker = call.party if parker_leg == call.party_leg else call.session.answered_by or ""
        await self.park(call, slot, parker)
        with contextlib.suppress(RpcError):
            await link.command("hangup", leg=parker_leg)

    async def park(self, call: LiveCall, slot: str, parker: str) -> None:
        """Put the caller in `slot` with music on hold; the flow's party leaves after this."""
        s = call.session
        if slot in self.parked:
            raise SlotError(f"slot {slot} is taken")
        link, caller_leg = self.sessions.need(s)
        party = call.party_of_flow()
        if party is not None:
            with contextlib.suppress(RpcError):
                await link.command("unbridge", a=caller_leg, b=party)
        parked = ParkedCall(slot, call, parker, self.sessions.clock.now())
        self.parked[slot] = parked
        self.sessions.placement.pin(f"{MediaService.PARK.value}:{slot}", s.call_id)
        call.party_leg, call.party = None, ""
        call.set_phase(Phase.PARKED)
        call.next_step = lambda: self._held(parked)
        log.info("call %s parked in %s by %s", s.call_id, slot, parker)

    async def _held(self, parked: ParkedCall) -> None:
        """The parked caller's side: music until retrieved, hung up, or the timeout."""
        call, m = parked.call, self.sessions
        s = call.session
        link, caller_leg = m.need(s)
        moh: str | None = None
        try:
            moh_file = await self.prompts.path(MOH)
            moh = str((await link.command("play", leg=caller_leg, file=str(moh_file), loop=True))["player"])
            ends = asyncio.ensure_future(m.until_any_ends(s, {caller_leg}))
            racers: set[asyncio.Future[Any]] = {ends, parked.retriever}
            done, _ = await asyncio.wait(racers, timeout=self.timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
            if ends in done:
                return  # the caller hung up while parked
            await cancel(ends)
            del self.parked[parked.slot]
            m.placement.unpin(f"{MediaService.PARK.value}:{parked.slot}")
            if parked.retriever.done():
                retriever, leg = parked.retriever.result()
                await self._stop(link, moh)
                moh = None
                await link.command("bridge", a=caller_leg, b=leg)
                call.set_phase(Phase.TALKING)
                log.info("call %s retrieved from %s by %s", s.call_id, parked.slot, retriever.caller)
                await self.features.record_pair(call, [call.caller_name, retriever.caller], [caller_leg, leg])
                await first_of(m.until_any_ends(s, {caller_leg}), parked.retriever_gone.wait())
                return
            await self._return_to_parker(parked, moh)
            moh = None
        finally:
            self.parked.pop(parked.slot, None)
            m.placement.unpin(f"{MediaService.PARK.value}:{parked.slot}")
            parked.over.set()
            if moh is not None:
                await self._stop(link, moh)

    async def _return_to_parker(self, parked: ParkedCall, moh: str) -> None:
        """Nobody retrieved the call in time: ring the parker, music until they answer."""
        call, m = parked.call, self.sessions
        s = call.session
        link, caller_leg = m.need(s)
        log.info("call %s: park timeout in %s, ringing %s", s.call_id, parked.slot, parked.parker)
        if not parked.parker:
            raise CallEnded(480, "park_timeout")
        leg = await m.ring(s, parked.parker, RETURN_RING_S)
        if leg is None:
            raise CallEnded(480, "park_timeout")
        await self._stop(link, moh)
        await link.command("bridge", a=caller_leg, b=leg)
        call.party_leg, call.party = leg, parked.parker
        call.set_phase(Phase.TALKING)
        call.next_step = lambda: self.features.talk(call)

    async def _stop(self, link: WorkerLink, player: str) -> None:
        with contextlib.suppress(RpcError):
            await link.command("stop_play", player=player)

    # ----- the PARK service: a slot was dialled -------------------------------------------

    async def run(self, session: Session) -> None:
        """Flow for a dialled slot: retrieve the parked call (an empty slot is refused 404)."""
        m = self.sessions
        link, leg = m.need(session)
        slot = session.target
        parked = self.parked.get(slot)
        if parked is None:
            with contextlib.suppress(RpcError):
                await link.command("hangup", leg=leg, code=404)
            raise CallEnded(404, "slot_empty")
        if parked.call.session.worker != session.worker or parked.retriever.done():
            raise CallEnded(486, "slot_busy")
        await m.answer_caller(session)
        await m.mark_answered(session, parked.call.caller_name)
        session.set_state(SessionState.CONNECTED)
        parked.retriever.set_result((session, leg))
        try:
            await first_of(m.until_any_ends(session, {leg}), parked.over.wait())
        finally:
            parked.retriever_gone.set()
