"""A queue caller's wait on a worker: music on hold, announcements, the callback offer, offers.

`WaitingCaller.run()` reads the session's one event stream (worker events, dispatcher offers
and redirects) and returns how the wait ended: an agent answered, the ACD redirected the
caller (timeout, full, empty), or the caller booked a callback that keeps their place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.acd.announce import AnnouncementConfig, Announcer, Say
from appliance.acd.destination import Destination
from appliance.acd.estimate import estimate_for_call
from appliance.acd.events import CallAnnounced, CallbackRefused
from appliance.acd.outcome import Outcome
from appliance.controller.prompts import MOH
from appliance.controller.rpc import RpcError
from appliance.controller.sessions import Session, SessionManager
from appliance.domain.errors import DomainError
from appliance.storage.queues import QueueRow

if TYPE_CHECKING:
    from appliance.controller.queues import QueueService

log = logging.getLogger(__name__)

OFFER = "acd_offer"
REDIRECT = "acd_redirect"
MENU_TIMEOUT_S = 20.0  # the callback confirm / number entry waits this long for keys
MAX_ENTERED_DIGITS = 20


@dataclass(frozen=True)
class Connected:
    """An agent answered: bridge the caller to `leg`."""

    agent_id: str
    leg: str


@dataclass(frozen=True)
class Redirected:
    """The ACD sent the caller out of the queue."""

    destination: Destination
    reason: str


@dataclass(frozen=True)
class CallbackBooked:
    """The caller asked to be called back; the callback keeps their place."""

    number: str


WaitResult = Connected | Redirected | CallbackBooked


async def ring_agents(
    m: SessionManager, s: Session, agents: list[str], seconds: float, from_user: str
) -> tuple[str, str] | None:
    """Ring these agents at once through the SIP edge; the first to answer wins, the others are hung up."""
    link = s.link
    if link is None:
        raise RuntimeError(f"session {s.call_id} has no worker link")
    legs: dict[str, str] = {}
    for agent in agents:
        try:
            data = await link.command(
                "dial", uri=f"sip:{agent}@{m.edge_uri}", from_uri=f"sip:{from_user}@{m.edge_uri}",
                timeout_s=max(1, round(seconds)),
            )
        except RpcError as exc:
            log.warning("call %s: dialling agent %s failed: %s", s.call_id, agent, exc)
            continue
        leg = str(data["leg"])
        m.track(s, leg)
        legs[leg] = agent
    winner: tuple[str, str] | None = None
    ringing = set(legs)
    deadline = m.clock.monotonic() + seconds + 2.0  # the worker's own dial timeout ends each leg first
    try:
        while ringing and winner is None:
            left = deadline - m.clock.monotonic()
            if left <= 0:
                break
            try:
                msg = await asyncio.wait_for(s.events.get(), left)
            except TimeoutError:
                break
            m.check_caller(s, msg, s.caller_leg or "")
            leg = str(msg.get("leg"))
            if leg not in ringing:
                continue
            if msg.get("event") == "leg_answered":
                winner = (legs[leg], leg)
                ringing.discard(leg)
            elif msg.get("event") == "leg_ended":
                ringing.discard(leg)
    finally:
        for leg in ringing:
            with contextlib.suppress(RpcError):
                await link.command("hangup", leg=leg)
        for leg in ringing:
            await m.wait_ended(s, leg, timeout=3.0)
    return winner


class WaitingCaller:
    """One caller waiting in one queue (the session's task runs it)."""

    def __init__(self, svc: QueueService, s: Session, row: QueueRow) -> None:
        self.svc = svc
        self.m = svc.manager
        self.s = s
        self.row = row
        self.link, self.leg = self.m.need(s)
        self.moh: str | None = None
        self.playing: str | None = None  # the announcement player now playing
        self.script: list[Path] = []  # announcement files still to play
        self.mode = "wait"  # wait | confirm (callback number) | enter (a number, then #)
        self.digits = ""
        self.mode_deadline: float | None = None
        self.announcer = Announcer(
            AnnouncementConfig(
                entry_prompt=None,  # played before the caller joined
                position_every_s=row.position_every_s,
                periodic_prompt=row.periodic_prompt if row.periodic_every_s else None,
                periodic_every_s=row.periodic_every_s if row.periodic_prompt else None,
                callback_after_s=row.callback_after_s,
                position_at_entry=row.position_every_s is not None,
            ),
            svc.clock.monotonic(),
        )

    # ----- the loop -----

    async def run(self) -> WaitResult:
        """Wait until an agent answers, the ACD redirects, or a callback is booked."""
        self.moh = await self._play(await self.svc.prompts.path(MOH, self.row.language), loop=True)
        try:
            while True:
                if not self.s.events.empty():  # what is already here first (an offer made at join)
                    msg = self.s.events.get_nowait()
                else:
                    try:
                        msg = await asyncio.wait_for(self.s.events.get(), self._timeout())
                    except TimeoutError:
                        await self._on_timer()
                        continue
                self.m.check_caller(self.s, msg, self.leg)
                result = await self._on_message(msg)
                if result is not None:
                    return result
        finally:
            await self._silence()

    def _timeout(self) -> float | None:
        times = [t for t in (self.mode_deadline,) if t is not None]
        due = self.announcer.next_due()
        if due is not None and self.playing is None and self.mode == "wait":
            times.append(due)
        return None if not times else max(0.0, min(times) - self.svc.clock.monotonic())

    async def _on_message(self, msg: dict[str, Any]) -> WaitResult | None:
        kind = msg.get("event")
        if kind == REDIRECT:
            return Redirected(Destination.parse(str(msg["destination"])), str(msg.get("reason", "")))
        if kind == OFFER:
            return await self._offer([str(a) for a in msg["agents"]], float(msg["timeout"]))
        if kind == "playback_done" and msg.get("player") == self.playing:
            self.playing = None
            await self._next_file()
        elif kind == "dtmf" and msg.get("leg") == self.leg:
            return await self._digit(str(msg.get("digit", "")))
        return None

    async def _on_timer(self) -> None:
        now = self.svc.clock.monotonic()
        if self.mode_deadline is not None and now >= self.mode_deadline:
            log.info("call %s: callback menu timed out", self.s.call_id)
            self.mode, self.digits, self.mode_deadline = "wait", "", None
            return
        due = self.announcer.next_due()
        if due is None or now < due or self.playing is not None:
            return
        d = self.svc.dispatcher
        try:
            estimate = estimate_for_call(d, self.row.number, self.s.call_id)
        except DomainError:
            return  # no longer waiting (a redirect is on its way)
        says = self.announcer.due(now, estimate.position, estimate)
        if not says:
            return
        said = [f"{x.prompt}:{x.value}" if x.value is not None else x.prompt for x in says]
        event = CallAnnounced(
            queue_id=self.row.number, call_id=self.s.call_id, at=now, position=estimate.position,
            estimate_s=estimate.seconds, confident=estimate.confident, said=tuple(said),
        )
        await self.svc.apply(Outcome(events=[event]))
        await self._say(says)

    # ----- offers -----

    async def _offer(self, agents: list[str], timeout: float) -> WaitResult | None:
        d = self.svc.dispatcher
        # Ring-all offers several agents: each needs a leg on this worker beyond the 2 the
        # session holds. Take what the worker has room for; agents that do not fit are
        # released without a miss (they are offered again at the next step).
        extra = len(agents) - 1
        while extra > 0 and not self.m.placement.add_legs(self.s.call_id, extra):
            extra -= 1
        if len(agents) > 1 + extra:
            out = Outcome()
            for agent in agents[1 + extra:]:
                out.extend(d.withdraw(self.s.call_id, agent))
            await self.svc.apply(out)
            agents = agents[: 1 + extra]
        try:
            got = await ring_agents(self.m, self.s, agents, timeout, self.s.caller)
        finally:
            if extra:
                self.m.placement.remove_legs(self.s.call_id, extra)
        if got is None:
            out = Outcome()
            for agent in agents:
                with contextlib.suppress(DomainError):  # released already (ring-all answered elsewhere)
                    out.extend(d.no_answer(self.s.call_id, agent))
            await self.svc.apply(out, step=True)
            if self.playing is not None:  # its playback_done went by during the ring
                await self._stop(self.playing)
                self.playing, self.script = None, []
                await self._resume_moh()
            return None
        agent, leg = got
        await self.svc.apply(d.answered(self.s.call_id, agent), step=True)
        return Connected(agent, leg)

    # ----- callback menu -----

    def _callback_open(self) -> bool:
        after = self.row.callback_after_s
        return after is not None and self.svc.clock.monotonic() - self.announcer.joined_at >= after

    async def _digit(self, digit: str) -> WaitResult | None:
        now = self.svc.clock.monotonic()
        if self.mode == "wait":
            if digit == "1" and self._callback_open():
                self.mode, self.mode_deadline = "confirm", now + MENU_TIMEOUT_S
                await self._say([Say("queue-callback-confirm")], digits=self.s.caller)
            return None
        if self.mode == "confirm":
            if digit == "1":
                return await self._book(self.s.caller)
            if digit == "2":
                self.mode, self.digits, self.mode_deadline = "enter", "", now + MENU_TIMEOUT_S
                await self._say([Say("queue-callback-enter")])
            return None
        # entering a number
        if digit == "#":
            return await self._book(self.digits)
        if digit == "*":
            self.mode, self.digits, self.mode_deadline = "wait", "", None
            return None
        if digit.isdigit() and len(self.digits) < MAX_ENTERED_DIGITS:
            self.digits += digit
            self.mode_deadline = now + MENU_TIMEOUT_S
        return None

    async def _book(self, number: str) -> WaitResult | None:
        self.mode, self.digits, self.mode_deadline = "wait", "", None
        try:
            out = self.svc.dispatcher.request_callback(self.s.call_id, number)
        except DomainError as exc:  # a duplicate, a bad number, or no longer waiting
            log.warning("call %s: callback to %r refused: %s", self.s.call_id, number, exc)
            refused = CallbackRefused(
                queue_id=self.row.number, call_id=self.s.call_id, at=self.svc.clock.monotonic(),
                number=number[:MAX_ENTERED_DIGITS], reason=str(exc),
            )
            await self.svc.apply(Outcome(events=[refused]))
            await self._say([Say("queue-callback-refused")])
            return None
        await self.svc.apply(out, step=True)
        return CallbackBooked(number)

    # ----- playing -----

    async def _say(self, says: list[Say], *, digits: str | None = None) -> None:
        """Play these prompts in order (music on hold pauses meanwhile); a new script replaces the old."""
        files = [await self.svc.voice.path(x, self.row.language, digits=digits) for x in says]
        if self.playing is not None:
            await self._stop(self.playing)
            self.playing = None
        if self.moh is not None:
            await self._stop(self.moh)
            self.moh = None
        self.script = files
        await self._next_file()

    async def _next_file(self) -> None:
        if self.script:
            self.playing = await self._play(self.script.pop(0))
        else:
            await self._resume_moh()

    async def _resume_moh(self) -> None:
        if self.moh is None:
            self.moh = await self._play(await self.svc.prompts.path(MOH, self.row.language), loop=True)

    async def _play(self, path: Path, *, loop: bool = False) -> str:
        data = await self.link.command("play", leg=self.leg, file=str(path), loop=loop)
        return str(data["player"])

    async def _stop(self, player: str) -> None:
        with contextlib.suppress(RpcError):
            await self.link.command("stop_play", player=player)

    async def _silence(self) -> None:
        for player in (self.playing, self.moh):
            if player is not None:
                await self._stop(player)
        self.playing = self.moh = None
        self.script = []
