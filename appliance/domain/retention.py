"""Recording retention: how long a recording is kept, and which ones are due for deletion (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from appliance.domain.errors import DomainError

DEFAULT_SCOPE = "*"  # the default for calls that went through no queue
MIN_DAYS, MAX_DAYS = 1, 36500


class RetentionError(DomainError):
    """A retention setting that cannot be used; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_days(days: int, field: str = "days") -> int:
    """`days` if it is a whole number of days in range, else RetentionError."""
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS:
        raise RetentionError(field, f"{field} must be {MIN_DAYS}-{MAX_DAYS} days")
    return days


@dataclass(frozen=True)
class RetentionPolicy:
    """Days a recording is kept: per queue, and a default for the rest."""

    default_days: int
    queue_days: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_days(self.default_days, "default_days")
        for queue, days in self.queue_days.items():
            check_days(days, f"queues.{queue}")

    def days_for(self, queues: Iterable[str]) -> int:
        """Days for a call that went through `queues`: the longest of theirs (never delete early)."""
        found = [self.queue_days.get(q, self.default_days) for q in queues]
        return max(found, default=self.default_days)


@dataclass(frozen=True)
class RecordingFacts:
    """What the rule needs to know about one indexed recording."""

    id: int
    started_at: datetime
    queues: tuple[str, ...] = ()
    legal_hold: bool = False
    expired: bool = False


def expires_at(policy: RetentionPolicy, rec: RecordingFacts) -> datetime:
    """When the recording's file may be deleted."""
    return rec.started_at + timedelta(days=policy.days_for(rec.queues))


def is_due(policy: RetentionPolicy, rec: RecordingFacts, now: datetime) -> bool:
    """Past its retention, not on legal hold, not already expired."""
    return not rec.legal_hold and not rec.expired and now >= expires_at(policy, rec)


def due(policy: RetentionPolicy, recs: Iterable[RecordingFacts], now: datetime) -> list[RecordingFacts]:
    """The recordings whose files are to be deleted now, oldest first."""
    return sorted((r for r in recs if is_due(policy, r, now)), key=lambda r: (r.started_at, r.id))
