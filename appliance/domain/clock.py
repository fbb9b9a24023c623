"""Injected time: the real clock and a manual one for tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds for timers, wall time for records."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    def now(self) -> datetime:
        """The current UTC time."""
        ...


class SystemClock:
    """The machine's clocks."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale."""
        return time.monotonic()

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when a test advances it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._mono = 0.0
        self._start = start or datetime(2026, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        """Seconds advanced so far."""
        return self._mono

    def now(self) -> datetime:
        """Start time plus the seconds advanced."""
        from datetime import timedelta

        return self._start + timedelta(seconds=self._mono)

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self._mono += seconds


def iso(dt: datetime) -> str:
    """ISO-8601 UTC with milliseconds, the form every table stores."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
