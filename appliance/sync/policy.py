"""Outbox bounds per stream and what happens when a stream reaches its bound (pure).

Durable streams (CDRs, queue events, agent state, alarms, anything unknown) are never
dropped: past the bound the event is still kept and an ``outbox_full`` alarm is raised
once, cleared when the backlog falls back under 90 % of the bound. Best-effort streams
(metrics) keep only their newest ``bound`` rows: the oldest are dropped, and their
``seq`` is the node's durable watermark, so dropping them never opens a sequence gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Overflow(Enum):
    """What a full stream does with a new event."""

    KEEP_AND_ALARM = "keep_and_alarm"
    DROP_OLDEST = "drop_oldest"


@dataclass(frozen=True)
class StreamPolicy:
    """Bound and overflow rule of one stream."""

    stream: str
    bound: int
    overflow: Overflow

    @property
    def durable(self) -> bool:
        """True when events of this stream take a node sequence number and are never dropped."""
        return self.overflow is Overflow.KEEP_AND_ALARM


DEFAULT_DURABLE_BOUND = 100_000
DEFAULT_POLICIES: dict[str, StreamPolicy] = {
    "cdr": StreamPolicy("cdr", DEFAULT_DURABLE_BOUND, Overflow.KEEP_AND_ALARM),
    "queue": StreamPolicy("queue", DEFAULT_DURABLE_BOUND, Overflow.KEEP_AND_ALARM),
    "agent": StreamPolicy("agent", DEFAULT_DURABLE_BOUND, Overflow.KEEP_AND_ALARM),
    "alarm": StreamPolicy("alarm", DEFAULT_DURABLE_BOUND, Overflow.KEEP_AND_ALARM),
    "sms": StreamPolicy("sms", DEFAULT_DURABLE_BOUND, Overflow.KEEP_AND_ALARM),
    "metrics": StreamPolicy("metrics", 2_000, Overflow.DROP_OLDEST),
}


@dataclass(frozen=True)
class Admission:
    """The outbox's decision for one new event."""

    drop_oldest: int = 0
    raise_alarm: bool = False
    clear_alarm: bool = False


class Policies:
    """Looks up stream policies and tracks which streams are over their bound."""

    def __init__(self, policies: dict[str, StreamPolicy] | None = None) -> None:
        self._policies = dict(DEFAULT_POLICIES if policies is None else policies)
        self._over: set[str] = set()

    def for_stream(self, stream: str) -> StreamPolicy:
        """Return the stream's policy; unknown streams are durable with the default bound."""
        return self._policies.get(
            stream, StreamPolicy(stream, DEFAULT_DURABLE_BOUND, Overflow.KEEP_AND_ALARM)
        )

    def admit(self, stream: str, backlog: int) -> Admission:
        """Decide what to do when adding one event to a stream holding `backlog` rows."""
        policy = self.for_stream(stream)
        if policy.overflow is Overflow.DROP_OLDEST:
            return Admission(drop_oldest=max(0, backlog + 1 - policy.bound))
        if backlog + 1 > policy.bound and stream not in self._over:
            self._over.add(stream)
            return Admission(raise_alarm=True)
        return Admission()

    def after_removal(self, stream: str, backlog: int) -> Admission:
        """Decide whether removing rows clears a stream's outbox_full alarm."""
        policy = self.for_stream(stream)
        if stream in self._over and backlog < policy.bound * 0.9:
            self._over.discard(stream)
            return Admission(clear_alarm=True)
        return Admission()

    def over_bound(self) -> set[str]:
        """Streams currently past their bound."""
        return set(self._over)
