"""The ACD wired into real calls: queue callers and agent feature codes on media workers.

The pure `Dispatcher` (appliance/acd) decides; this module carries its decisions out on a
worker (ring the agent through Kamailio, bridge, record, overflow) and reports what really
happened back to it (answered, no answer, abandoned, hung up). Every dispatcher outcome is
folded into the live `KpiBoard` and appended durably to `queue_events`.

A queue caller's session is one task (the SessionManager's). Dispatcher instructions for a
call (offer, redirect) are delivered into that session's event queue as `acd_offer` /
`acd_redirect` messages, so the flow reads one stream of events in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from typing import Any

from appliance.acd import events as acd_events
from appliance.acd.agent import AgentState
from appliance.acd.callback import pending_callbacks
from appliance.acd.destination import Destination, DestinationKind
from appliance.acd.dispatcher import Dispatcher, QueueBusy
from appliance.acd.events import SurveyAnswered
from appliance.acd.feature_codes import FeatureCodes, apply_command
from appliance.acd.kpi import KpiBoard, QueueKpis
from appliance.acd.outcome import Outcome
from appliance.acd.queue import Queue
from appliance.controller.changes import Changes
from appliance.controller.prompts import MOH, Prompts
from appliance.controller.queue_callback import run_callback
from appliance.controller.queue_caller import (
    OFFER,
    REDIRECT,
    CallbackBooked,
    Connected,
    Redirected,
    WaitingCaller,
    WaitResult,
)
from appliance.controller.queue_config import queue_from_row
from appliance.controller.queue_prompts import QueuePrompts
from appliance.controller.rpc import RpcError
from appliance.controller.sessions import WORKER_LOST, CallEnded, Session, SessionManager
from appliance.domain.clock import Clock
from appliance.domain.dialplan import MediaService, QueueNumber, hunt_order
from appliance.domain.errors import DomainError
from appliance.domain.session_state import SessionState
from appliance.storage.queues import LoggedEvent, QueueRow, QueueStore

log = logging.getLogger(__name__)

OVERFLOW_RING_S = 20  # ring an overflow extension this long
SURVEY_WAIT_S = 10.0  # the caller has this long from the survey question's start to press 1-5
# Events that rebuild open callbacks after a restart (appliance/acd/callback.py pending_callbacks).
_CALLBACK_EVENTS = ("CallerJoined", "CallbackRequested", "CallbackRetry", "CallbackFinished")
# Confirmation tones for feature codes: a high beep when done, a low one when refused.
TONE_OK = {"freq1": 880, "on_ms": 400, "off_ms": 100}
TONE_REFUSED = {"freq1": 330, "on_ms": 900, "off_ms": 100}
class QueueService:
    """Owner of the dispatcher, the KPI board and the queue event log for the controller."""

    def __init__(
        self, *, manager: SessionManager, store: QueueStore, prompts: Prompts, clock: Clock, seed: int = 0
    ) -> None:
        self.manager = manager
        self.store = store
        self.prompts = prompts
        self.voice = QueuePrompts(prompts)  # announcements with spoken values
        self.clock = clock
        self.dispatcher = Dispatcher(clock, random.Random(seed))
        self.board = KpiBoard()
        self.codes = FeatureCodes()
        self.rows: dict[str, QueueRow] = {}
        self.agent_skills: dict[str, dict[str, int]] = {}  # the agents' own skills (across queues)
        # Queues storage no longer has but that still had calls when it changed: no number (nobody new
        # joins), dropped when their last call leaves.
        self.draining: set[str] = set()
        self._pending: list[Any] = []
        self._write_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self.changes = Changes()  # marked on every ACD event: live views wait on it instead of polling
        self._timer: asyncio.Task[None] | None = None
        self._callbacks: set[asyncio.Task[None]] = set()

    # ----- configuration and reads -----

    def configure(self, rows: list[QueueRow]) -> None:
        """Load or reload queues into the dispatcher, live (a bad queue is logged and skipped).

        A queue already loaded is replaced in place: its waiting callers keep their places.
        """
        for row in rows:
            try:
                queue = queue_from_row(row, self.agent_skills)
                for agent_id in row.members:
                    if agent_id not in self.dispatcher.agents:
                        self.dispatcher.add_agent(agent_id, max_misses=row.max_misses)
                if row.number in self.dispatcher.queues:
                    self.dispatcher.replace_queue(queue)
                else:
                    self.dispatcher.add_queue(queue)
            except DomainError as exc:
                log.error("queue %s not loaded: %s", row.number, exc)
                continue
            self.rows[row.number] = row
            self.draining.discard(row.number)
        self._set_max_misses()
        self._wake.set()  # a reconfigure can make a caller eligible (tiers, members, skills)

    def _set_max_misses(self) -> None:
        """Each agent's missed-ring limit is the strictest (lowest) of the queues they serve now.

        The auto-pause takes the agent out of every queue, so the queue that tolerates the fewest
        misses decides. An agent in no queue keeps the limit they had.
        """
        limits: dict[str, int] = {}
        for row in self.rows.values():
            for agent_id in row.members:
                limits[agent_id] = min(limits.get(agent_id, row.max_misses), row.max_misses)
        for agent_id, limit in limits.items():
            if agent_id in self.dispatcher.agents:
                self.dispatcher.set_max_misses(agent_id, limit)

    def set_agent_skills(self, agent_id: str, skills: Mapping[str, int]) -> None:
        """Replace an agent's own skills and reload every queue they are a member of (live)."""
        self.agent_skills[agent_id] = dict(skills)
        if not skills:
            del self.agent_skills[agent_id]
        self.configure([r for r in self.rows.values() if agent_id in r.members])

    def remove(self, number: str) -> QueueRow:
        """Take an idle queue out of the ACD; raises QueueBusy (nothing changes) while calls are in it."""
        self.dispatcher.remove_queue(number)
        row = self.rows.pop(number)
        self.draining.discard(number)
        self._set_max_misses()
        return row

    def reinstate(self, queue: Queue, row: QueueRow) -> None:
        """Put back a queue just removed, as it was (history and round-robin memory too)."""
        self.dispatcher.add_queue(queue)
        self.rows[row.number] = row
        self._set_max_misses()

    async def reload(self) -> list[str]:
        """Make the running ACD equal storage (after a backup restore): agents' skills, queues loaded or
        replaced, queues storage no longer has dropped. A dropped queue that still has calls keeps them
        until they end but takes no new caller; returns those queues' numbers."""
        self.agent_skills = await self.store.agent_skills()
        rows = await self.store.load()
        self.configure(rows)
        for number in sorted(set(self.rows) - {r.number for r in rows}):
            self.draining.add(number)
        self._drop_drained()
        if self.draining:
            log.warning("queues %s are gone from the configuration; dropped when their calls end",
                        sorted(self.draining))
        return sorted(self.draining)

    def _drop_drained(self) -> None:
        for number in sorted(self.draining):
            try:
                self.remove(number)
            except QueueBusy:
                continue
            log.info("queue %s dropped: its last call has left", number)

    async def load_skills(self) -> None:
        """Read the agents' skills from storage and reload every queue with them."""
        self.agent_skills = await self.store.agent_skills()
        self.configure(list(self.rows.values()))

    async def restore(self) -> int:
        """After a restart: log agents back in (paused with their reason) as the event log left them.

        Calls did not survive the restart, so an agent who was ringing, talking or in wrap-up
        comes back available. Returns how many agents were restored.
        """
        await self.load_skills()
        out = Outcome()
        for agent_id, (state, reason) in (await self.store.last_agent_states()).items():
            agent = self.dispatcher.agents.get(agent_id)
            if agent is None or state == AgentState.LOGGED_OUT.value or agent.state is not AgentState.LOGGED_OUT:
                continue
            paused = (reason or "pause") if state == AgentState.PAUSED.value else None
            out.events += agent.login(paused_reason=paused)
        self._restore_history(await self.store.events())
        if out.events:
            await self.apply(out, step=True)
        return sum(1 for e in out.events if type(e).__name__ == "AgentLoggedIn")

    def _restore_history(self, logged: list[LoggedEvent]) -> None:
        """Handle times (for the wait estimate) and open callbacks (with their places) from the log."""
        d = self.dispatcher
        for e in logged:
            if e.type == "CallEnded" and e.queue_id in d.queues:
                d.queues[e.queue_id].record_handle_time(float(e.data["talk_s"]) + float(e.data["wrap_up_s"]))
        events = []
        for e in logged:
            if e.type in _CALLBACK_EVENTS:
                data = {k: tuple(v) if isinstance(v, list) else v for k, v in e.data.items()}
                events.append(getattr(acd_events, e.type)(**data))
        for record in pending_callbacks(events):
            try:
                d.restore_callback(record)
                log.warning("callback %s for %s restored in queue %s", record.call_id, record.number, record.queue_id)
            except DomainError as exc:
                log.error("callback %s not restored: %s", record.call_id, exc)

    def numbers(self) -> dict[str, QueueNumber]:
        """Queue numbers for the dial plan."""
        return {n: QueueNumber(n, r.name, r.members) for n, r in self.rows.items() if n not in self.draining}

    def kpis(self) -> dict[str, QueueKpis]:
        """Live figures per queue (KpiBoard snapshot now)."""
        now = self.clock.monotonic()
        return {q: self.board.snapshot(q, now) for q in self.rows}

    def agent_states(self) -> dict[str, str]:
        """Each agent's state (with the pause reason when paused)."""
        out = {}
        for agent_id, agent in sorted(self.dispatcher.agents.items()):
            state = agent.state.value
            out[agent_id] = f"{state}:{agent.pause_reason}" if agent.pause_reason else state
        return out

    # ----- the dispatcher's clock -----

    async def start(self) -> None:
        """Run the timer that calls step() at the dispatcher's next deadline (started at first use)."""
        if self._timer is None:
            self._timer = asyncio.create_task(self._timer_loop(), name="acd-timer")

    async def stop(self) -> None:
        """Stop the timer and flush the event log."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        await self._flush()

    async def _timer_loop(self) -> None:
        while True:
            deadline = self.dispatcher.next_deadline()
            delay = None if deadline is None else max(0.0, deadline - self.clock.monotonic())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            if deadline is not None and self.clock.monotonic() >= deadline:
                try:
                    await self.tick()
                except Exception:
                    log.exception("ACD step failed")

    async def tick(self) -> None:
        """Apply what time changed (wrap-ups, max waits) and make offers."""
        await self.apply(self.dispatcher.step())

    async def apply(self, outcome: Outcome, *, step: bool = False) -> None:
        """Carry out an outcome: deliver offers and redirects, fold events, log them durably."""
        if step:
            outcome.extend(self.dispatcher.step())
        for offer in outcome.offers:
            if offer.callback:
                task = asyncio.create_task(run_callback(self, offer), name=f"callback-{offer.call_id}")
                self._callbacks.add(task)
                task.add_done_callback(self._callbacks.discard)
                continue
            session = self.manager.sessions.get(offer.call_id)
            if session is None:
                log.error("offer for call %s with no session", offer.call_id)
                continue
            session.events.put_nowait(
                {"event": OFFER, "agents": list(offer.agent_ids), "timeout": offer.ring_timeout_s}
            )
        for redirect in outcome.redirects:
            session = self.manager.sessions.get(redirect.call_id)
            if session is not None:
                session.events.put_nowait(
                    {"event": REDIRECT, "destination": str(redirect.destination), "reason": redirect.reason}
                )
        self.board.apply_all(outcome.events)
        if outcome.events:
            self.changes.mark()
        self._pending.extend(outcome.events)
        if self.draining:
            self._drop_drained()
        if self._timer is None:
            await self.start()
        self._wake.set()
        await self._flush()

    async def _flush(self) -> None:
        async with self._write_lock:
            events, self._pending = self._pending, []
            if events:
                await self.store.append(events, self.clock.now(), self.clock.monotonic())

    # ----- agent commands (feature codes and, later, the API) -----

    async def agent_command(self, agent_id: str, dialed: str) -> None:
        """Carry out a feature code for an agent; raises DomainError when refused (nothing changes)."""
        command = self.codes.parse(dialed)
        if command is None:
            raise DomainError(f"{dialed!r} is not a feature code")
        events = apply_command(self.dispatcher.agent(agent_id), command)
        await self.apply(Outcome(events=list(events)), step=True)

    # ----- media flows -----

    async def run(self, session: Session) -> None:
        """The flow for a queue or feature-code session."""
        if session.service is MediaService.AGENT_FEATURE:
            await self._feature(session)
        else:
            await self._caller(session)

    async def _feature(self, s: Session) -> None:
        m = self.manager
        link, leg = m.need(s)
        await m.answer_caller(s)
        await m.mark_answered(s, None)
        s.set_state(SessionState.CONNECTED)
        try:
            await self.agent_command(s.caller, s.target)
            tone = TONE_OK
        except DomainError as exc:
            log.warning("feature code %s from %s refused: %s", s.target, s.caller, exc)
            tone = TONE_REFUSED
        await link.command("tone", leg=leg, loop=False, **tone)
        await m.wait_for(s, {"playback_done"}, leg, timeout=5)

    async def _caller(self, s: Session) -> None:
        m = self.manager
        link, leg = m.need(s)
        row = self.rows[s.target]
        await m.answer_caller(s)
        if s.state is SessionState.ANSWERING:
            s.set_state(SessionState.HUNTING)
        if not s.data.get("queue_welcomed"):  # once per session, whatever queues it passes through
            s.data["queue_welcomed"] = True
            welcome = await self.prompts.path("queue-welcome", row.language)
            await link.command("play", leg=leg, file=str(welcome))
            await m.wait_for(s, {"playback_done"}, leg, timeout=60)
        joined, cause = False, ""
        result: WaitResult | None = None
        try:
            priority = int(s.data.get("priority", 0))
            skills = s.data.get("skills")
            await self.apply(
                self.dispatcher.join(row.number, s.call_id, s.caller, priority=priority, skills=skills), step=True
            )
            joined = True
            result = await WaitingCaller(self, s, row).run()
            if isinstance(result, Connected):
                ended = await self._connect(s, result.agent_id, result.leg, row.record)
                await self._leave(s.call_id, lost=False)
                if ended == result.leg and row.survey:
                    await self._survey(s, row, result.agent_id)
            elif isinstance(result, CallbackBooked):
                await self._say_and_wait(s, "queue-callback-booked", row.language)
                raise CallEnded(200, "callback_requested")
        except CallEnded as ended_call:
            cause = ended_call.cause
            if ended_call.cause == "caller_hangup":
                raise CallEnded(ended_call.code, "abandoned") from None
            raise
        except RpcError:
            if not link.closed.is_set():
                raise
            # The worker died under a command (bridge, record...): that is a lost worker.
            cause = WORKER_LOST
            raise CallEnded(500, WORKER_LOST) from None
        finally:
            if joined:
                await self._leave(s.call_id, lost=cause == WORKER_LOST)
        if isinstance(result, Redirected):
            await self._overflow(s, row, result.destination)

    async def _say_and_wait(self, s: Session, prompt: str, language: str, timeout: float = 30.0) -> None:
        link, leg = self.manager.need(s)
        await link.command("play", leg=leg, file=str(await self.voice.path(prompt, language)))
        await self.manager.wait_for(s, {"playback_done"}, leg, timeout=timeout)

    async def _connect(self, s: Session, party: str, other_leg: str, record: bool) -> str:
        """Bridge the caller to the answering party, record, and wait for either to hang up (that leg)."""
        m = self.manager
        link, caller_leg = m.need(s)
        await link.command("bridge", a=caller_leg, b=other_leg)
        if record:
            await m.start_recording(s, [s.caller, party], [caller_leg, other_leg])
        await m.mark_answered(s, party)
        if s.state is not SessionState.CONNECTED:
            s.set_state(SessionState.CONNECTED)
        return await m.until_any_ends(s, {caller_leg, other_leg})

    async def _survey(self, s: Session, row: QueueRow, agent_id: str) -> None:
        """The agent hung up: the caller rates the call 1-5 by DTMF (asked twice at most)."""
        m = self.manager
        link, leg = m.need(s)
        for _ in range(2):
            data = await link.command("play", leg=leg, file=str(await self.voice.path("survey-question", row.language)))
            score = await self._one_digit(s, leg, SURVEY_WAIT_S)
            if score is not None and score in "12345":
                with contextlib.suppress(RpcError):
                    await link.command("stop_play", player=str(data["player"]))
                event = SurveyAnswered(
                    queue_id=row.number, call_id=s.call_id, at=self.clock.monotonic(), agent_id=agent_id,
                    score=int(score),
                )
                await self.apply(Outcome(events=[event]))
                await self._say_and_wait(s, "survey-thanks", row.language)
                return

    async def _one_digit(self, s: Session, leg: str, seconds: float) -> str | None:
        """The first key the caller presses within `seconds` after the question starts (None: silence)."""
        with contextlib.suppress(TimeoutError):
            msg = await self.manager.wait_for(s, {"dtmf"}, leg, timeout=seconds)
            return str(msg.get("digit", ""))
        return None

    async def _overflow(self, s: Session, row: QueueRow, dest: Destination) -> None:
        """Carry out a redirect: another queue, voicemail, an external number, an extension, or hang up."""
        m = self.manager
        kind = dest.kind
        service = {
            DestinationKind.QUEUE: MediaService.QUEUE,
            DestinationKind.VOICEMAIL: MediaService.VOICEMAIL,
            DestinationKind.EXTERNAL: MediaService.OUTBOUND,
            DestinationKind.MENU: MediaService.IVR,
            DestinationKind.IVR: MediaService.IVR,  # the same hand-over as menu:NNN
        }.get(kind)
        if kind is DestinationKind.QUEUE and dest.target not in self.rows:
            service = None
        if service is not None and service in m.flows:
            await m.hand_over(s, service, dest.target)
            return
        if kind is DestinationKind.EXTENSION:
            await self._to_extension(s, dest)
            return
        if kind is not DestinationKind.HANGUP:
            log.error("call %s: overflow to %s is not wired; hanging up politely", s.call_id, dest)
        with contextlib.suppress(TimeoutError):
            await self._say_and_wait(s, "queue-goodbye", row.language)
        raise CallEnded(480, "queue_overflow_hangup")

    async def _to_extension(self, s: Session, dest: Destination) -> None:
        """Dial the overflow extension (or hunt a ring group), music on hold until one answers."""
        m = self.manager
        group = m.directory.ring_groups.get(dest.target)
        targets = hunt_order(group, s.caller) if group else [dest.target]
        ring_s = group.ring_seconds if group else OVERFLOW_RING_S
        link, caller_leg = m.need(s)
        moh = await link.command("play", leg=caller_leg, file=str(await self.prompts.path(MOH)), loop=True)
        for target in targets:
            leg = await m.ring(s, target, ring_s)
            if leg is None:
                continue
            with contextlib.suppress(RpcError):
                await link.command("stop_play", player=str(moh["player"]))
            await self._connect(s, target, leg, record=True)
            return
        raise CallEnded(480, "overflow_no_answer")

    async def _leave(self, call_id: str, *, lost: bool) -> None:
        """Take a call out of the ACD however its flow ended; agents on a lost worker are freed."""
        d = self.dispatcher
        try:
            talking = d.answered_calls().get(call_id)
            if talking is not None:
                out = d.hangup(call_id)
                agent = d.agent(talking[1])
                if lost and agent.state is AgentState.WRAP_UP:
                    out.events += agent.ready()
                await self.apply(out, step=True)
                return
            waiting = next((c for queue in d.queues.values() if (c := queue.find(call_id))), None)
            if waiting is not None and not waiting.callback:  # a callback keeps the place
                await self.apply(d.abandon(call_id), step=True)
        except DomainError:
            log.exception("call %s could not leave the ACD cleanly", call_id)

