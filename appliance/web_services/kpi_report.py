"""Reports by interval, folded from the queue event log: pure arithmetic, no I/O.

Queue figures (volume, SL, ASA, AHT, abandonment) come from the ACD's own `KpiBoard`, one
board per interval, so a report and the live wallboard count the same way. Agent figures
(time per state, occupancy, pause time by reason) come from the agents' state changes.
"""

from __future__ import annotations

import dataclasses
import typing
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from appliance.acd import events as acd_events
from appliance.acd.destination import Destination
from appliance.acd.events import AgentEvent, AgentPaused, QueueEvent
from appliance.acd.kpi import KpiBoard
from appliance.domain.errors import DomainError

AcdEvent = AgentEvent | QueueEvent


class Interval(Enum):
    """How long one row of a report covers."""

    HOUR = "hour"
    DAY = "day"


class GroupBy(Enum):
    """What one row of a queue report is about."""

    QUEUE = "queue"
    AGENT = "agent"  # calls the agent answered: answered, SL, ASA, AHT
    TOTAL = "total"


TOTAL_KEY = "all"
_QUEUE_EVENT_TYPES: dict[str, type[QueueEvent]] = {
    c.__name__: c for c in vars(acd_events).values()
    if isinstance(c, type) and issubclass(c, QueueEvent) and c is not QueueEvent
}
_AGENT_EVENT_TYPES: dict[str, type[AgentEvent]] = {
    c.__name__: c for c in vars(acd_events).values()
    if isinstance(c, type) and issubclass(c, AgentEvent) and c is not AgentEvent
}


def _shape(cls: type[Any]) -> tuple[tuple[str, bool], ...]:
    """(field name, is a Destination) per field of an event class (type hints are slow to resolve)."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints.get(f.name) is Destination) for f in dataclasses.fields(cls))


_SHAPES = {name: _shape(c) for name, c in (*_QUEUE_EVENT_TYPES.items(), *_AGENT_EVENT_TYPES.items())}


def decode(type_name: str, data: dict[str, Any]) -> AcdEvent | None:
    """Rebuild a logged event from its type name and JSON fields; None for a type this code does not know."""
    cls: type[Any] | None = _QUEUE_EVENT_TYPES.get(type_name) or _AGENT_EVENT_TYPES.get(type_name)
    if cls is None:
        return None
    kwargs: dict[str, Any] = {}
    for name, is_destination in _SHAPES[type_name]:
        if name not in data:
            continue
        value = data[name]
        if is_destination:
            value = Destination.parse(str(value))
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        ev: AcdEvent = cls(**kwargs)
    except TypeError as exc:  # a field missing from an old row
        raise DomainError(f"cannot read logged {type_name}: {exc}") from exc
    return ev


def bucket_of(at: datetime, interval: Interval) -> datetime:
    """The start of the interval holding `at`."""
    if interval is Interval.HOUR:
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def step(interval: Interval) -> timedelta:
    """One interval's length."""
    return timedelta(hours=1) if interval is Interval.HOUR else timedelta(days=1)


def buckets(start: datetime, end: datetime, interval: Interval) -> Iterator[datetime]:
    """Every interval start from the one holding `start` up to (not including) `end`."""
    b = bucket_of(start, interval)
    while b < end:
        yield b
        b += step(interval)


@dataclass(frozen=True)
class QueueInterval:
    """One row of a queue report: one interval and one queue (or agent, or all queues)."""

    interval_start: datetime
    key: str
    entered: int
    answered: int
    answered_in_sl: int
    abandoned: int
    short_abandoned: int
    timed_out: int
    service_level: float | None
    asa_s: float | None
    aht_s: float | None
    abandon_rate: float | None


def _regroup(ev: QueueEvent, by: GroupBy) -> QueueEvent | None:
    if by is GroupBy.QUEUE:
        return ev
    if by is GroupBy.TOTAL:
        return dataclasses.replace(ev, queue_id=TOTAL_KEY)
    agent_id = getattr(ev, "agent_id", "")
    return dataclasses.replace(ev, queue_id=agent_id) if agent_id else None


def queue_report(logged: Iterable[tuple[datetime, AcdEvent]], interval: Interval, by: GroupBy,
                 sl_threshold_s: float = 20.0, short_abandon_s: float = 5.0) -> list[QueueInterval]:
    """Queue KPIs per interval and per queue/agent/total, oldest interval first; intervals without calls omitted.

    An event counts in the interval where it happened: a call that joined at 09:59 and was
    answered at 10:01 is entered in 09:00 and answered in 10:00, as a wallboard would have shown.
    """
    boards: dict[datetime, KpiBoard] = {}
    keys: dict[datetime, set[str]] = defaultdict(set)
    for at, ev in logged:
        if not isinstance(ev, QueueEvent):
            continue
        moved = _regroup(ev, by)
        if moved is None:
            continue
        b = bucket_of(at, interval)
        board = boards.get(b)
        if board is None:
            board = boards[b] = KpiBoard(sl_threshold_s=sl_threshold_s, short_abandon_s=short_abandon_s)
        board.apply(moved)
        keys[b].add(moved.queue_id)
    rows: list[QueueInterval] = []
    for b in sorted(boards):
        for key in sorted(keys[b]):
            k = boards[b].snapshot(key, 0.0)
            if not (k.entered or k.answered or k.abandoned or k.short_abandoned or k.timed_out or k.handled):
                continue
            rows.append(QueueInterval(b, key, k.entered, k.answered, k.answered_in_sl, k.abandoned,
                                      k.short_abandoned, k.timed_out, k.service_level, k.asa_s, k.aht_s,
                                      k.abandon_rate))
    return rows


@dataclass(frozen=True)
class AgentInterval:
    """One agent in one interval: seconds per state, occupancy and pause seconds by reason."""

    interval_start: datetime
    agent_id: str
    available_s: float
    reserved_s: float
    on_call_s: float
    wrap_up_s: float
    paused_s: float
    pauses: dict[str, float]

    @property
    def staffed_s(self) -> float:
        """Logged in and not paused."""
        return self.available_s + self.reserved_s + self.on_call_s + self.wrap_up_s

    @property
    def occupancy(self) -> float | None:
        """Share of staffed time spent handling calls (talk + wrap-up); None when not staffed."""
        staffed = self.staffed_s
        return (self.on_call_s + self.wrap_up_s) / staffed if staffed > 0 else None


_STATE_FIELDS = {"available": "available_s", "reserved": "reserved_s", "on_call": "on_call_s",
                 "wrap_up": "wrap_up_s", "paused": "paused_s"}


def agent_report(logged: Iterable[tuple[datetime, AcdEvent]], start: datetime, end: datetime,
                 interval: Interval, before: dict[str, tuple[str, str]] | None = None) -> list[AgentInterval]:
    """Time per state per agent and interval over [start, end); `before` is each agent's (state, reason) at `start`.

    Events must be in log order. Time in a state runs from one change to the next (or `end`)
    and is split at interval boundaries; logged-out time is not counted.
    """
    if end <= start:
        raise DomainError("a report's end must be after its start")
    current: dict[str, tuple[str, str, datetime]] = {
        a: (state, reason, start) for a, (state, reason) in (before or {}).items()
    }
    totals: dict[tuple[datetime, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def close(agent: str, upto: datetime) -> None:
        state, reason, since = current[agent]
        if state not in _STATE_FIELDS:
            return
        t = max(since, start)
        upto = min(upto, end)
        while t < upto:
            b = bucket_of(t, interval)
            piece_end = min(b + step(interval), upto)
            secs = (piece_end - t).total_seconds()
            cell = totals[(b, agent)]
            cell[_STATE_FIELDS[state]] += secs
            if state == "paused":
                cell["pause:" + (reason or "")] += secs
            t = piece_end

    for at, ev in logged:
        if not isinstance(ev, AgentEvent) or at >= end:
            continue
        if ev.agent_id in current:
            close(ev.agent_id, at)
        reason = ev.reason if isinstance(ev, AgentPaused) else ""
        current[ev.agent_id] = (ev.new, reason, at)
    for agent in current:
        close(agent, end)
    rows = []
    for (b, agent) in sorted(totals):
        cell = totals[(b, agent)]
        pauses = {k[6:]: v for k, v in sorted(cell.items()) if k.startswith("pause:")}
        rows.append(AgentInterval(b, agent, cell["available_s"], cell["reserved_s"], cell["on_call_s"],
                                  cell["wrap_up_s"], cell["paused_s"], pauses))
    return rows
