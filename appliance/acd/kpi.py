"""Live queue KPIs folded from the stream of queue and agent events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from appliance.acd.events import (
    AgentEvent,
    CallAbandoned,
    CallAnswered,
    CallbackFinished,
    CallbackRequested,
    CallEnded,
    CallerJoined,
    CallOverflowed,
    CallTimedOut,
    CallTransferred,
    QueueEvent,
    SurveyAnswered,
)
from appliance.domain.errors import DomainError


@dataclass(frozen=True)
class QueueKpis:
    """One queue's figures at a moment; ratios are None until there is a denominator."""

    queue_id: str
    waiting: int
    longest_wait_s: float
    entered: int  # callers who joined (refused ones did not)
    answered: int
    answered_in_sl: int
    abandoned: int  # after the short-abandon threshold
    short_abandoned: int
    timed_out: int
    left_empty: int  # moved out because the queue emptied of agents
    refused: int  # turned away at the door: full or empty
    callbacks_requested: int
    callbacks_waiting: int
    callbacks_connected: int
    transferred: int
    handled: int  # answered calls that ended
    service_level: float | None
    asa_s: float | None
    aht_s: float | None
    abandon_rate: float | None
    surveys: int = 0
    csat: float | None = None  # share of survey answers scoring 4 or 5
    negative_rate: float | None = None  # share scoring 1 or 2

    @property
    def sl_denominator(self) -> int:
        """Calls whose wait ended in this queue, short abandons and callback requests excluded."""
        return self.answered + self.abandoned + self.timed_out + self.left_empty


@dataclass
class _Counts:
    waiting: dict[str, float] = field(default_factory=dict)  # call_id -> joined at
    callbacks: set[str] = field(default_factory=set)
    entered: int = 0
    answered: int = 0
    in_sl: int = 0
    wait_sum: float = 0.0
    abandoned: int = 0
    short_abandoned: int = 0
    timed_out: int = 0
    left_empty: int = 0
    refused: int = 0
    cb_requested: int = 0
    cb_connected: int = 0
    transferred: int = 0
    handled: int = 0
    handle_sum: float = 0.0
    surveys: int = 0
    satisfied: int = 0
    negative: int = 0


class KpiBoard:
    """Counts per queue since it was created; replay a period's events into a fresh board for that period."""

    def __init__(self, *, sl_threshold_s: float = 20.0, short_abandon_s: float = 5.0) -> None:
        if sl_threshold_s < 0 or short_abandon_s < 0:
            raise DomainError("KPI thresholds must not be negative")
        self.sl_threshold_s = sl_threshold_s
        self.short_abandon_s = short_abandon_s
        self._queues: dict[str, _Counts] = {}
        self._agents: dict[str, str] = {}  # agent_id -> state value

    def apply_all(self, events: Iterable[QueueEvent | AgentEvent]) -> None:
        """Fold a sequence of events, in order."""
        for ev in events:
            self.apply(ev)

    def apply(self, ev: QueueEvent | AgentEvent) -> None:
        """Fold one event."""
        if isinstance(ev, AgentEvent):
            self._agents[ev.agent_id] = ev.new
            return
        c = self._queues.setdefault(ev.queue_id, _Counts())
        if isinstance(ev, CallerJoined):
            c.entered += 1
            c.waiting[ev.call_id] = ev.at
        elif isinstance(ev, CallAnswered):
            c.waiting.pop(ev.call_id, None)
            c.answered += 1
            c.wait_sum += ev.wait_s
            c.in_sl += ev.wait_s <= self.sl_threshold_s
        elif isinstance(ev, CallAbandoned):
            c.waiting.pop(ev.call_id, None)
            if ev.wait_s < self.short_abandon_s:
                c.short_abandoned += 1
            else:
                c.abandoned += 1
        elif isinstance(ev, CallTimedOut):
            c.waiting.pop(ev.call_id, None)
            c.timed_out += 1
        elif isinstance(ev, CallOverflowed):
            if ev.reason == "leave_empty":
                c.waiting.pop(ev.call_id, None)
                c.left_empty += 1
            else:
                c.refused += 1
        elif isinstance(ev, CallbackRequested):
            c.waiting.pop(ev.call_id, None)
            c.callbacks.add(ev.call_id)
            c.cb_requested += 1
        elif isinstance(ev, CallbackFinished):
            c.callbacks.discard(ev.call_id)
            c.cb_connected += ev.outcome == "connected"
        elif isinstance(ev, CallTransferred):
            c.transferred += 1
        elif isinstance(ev, CallEnded):
            c.handled += 1
            c.handle_sum += ev.talk_s + ev.wrap_up_s
        elif isinstance(ev, SurveyAnswered):
            c.surveys += 1
            c.satisfied += ev.score >= 4
            c.negative += ev.score <= 2

    def snapshot(self, queue_id: str, now: float) -> QueueKpis:
        """The queue's figures at `now` (the clock's monotonic seconds)."""
        c = self._queues.get(queue_id, _Counts())
        denominator = c.answered + c.abandoned + c.timed_out + c.left_empty
        return QueueKpis(
            queue_id=queue_id,
            waiting=len(c.waiting),
            longest_wait_s=max((now - t for t in c.waiting.values()), default=0.0),
            entered=c.entered,
            answered=c.answered,
            answered_in_sl=c.in_sl,
            abandoned=c.abandoned,
            short_abandoned=c.short_abandoned,
            timed_out=c.timed_out,
            left_empty=c.left_empty,
            refused=c.refused,
            callbacks_requested=c.cb_requested,
            callbacks_waiting=len(c.callbacks),
            callbacks_connected=c.cb_connected,
            transferred=c.transferred,
            handled=c.handled,
            service_level=c.in_sl / denominator if denominator else None,
            asa_s=c.wait_sum / c.answered if c.answered else None,
            aht_s=c.handle_sum / c.handled if c.handled else None,
            abandon_rate=c.abandoned / denominator if denominator else None,
            surveys=c.surveys,
            csat=c.satisfied / c.surveys if c.surveys else None,
            negative_rate=c.negative / c.surveys if c.surveys else None,
        )

    def agents_by_state(self, agent_ids: Iterable[str] | None = None) -> dict[str, int]:
        """How many agents are in each state (of `agent_ids`, e.g. a queue's members, or all seen)."""
        ids = self._agents.keys() if agent_ids is None else agent_ids
        return dict(Counter(self._agents.get(a, "logged_out") for a in ids))
