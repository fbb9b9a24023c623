"""A change counter that readers can await: the push hook between the ACD and live views."""

from __future__ import annotations

import asyncio
import contextlib


class Changes:
    """Counts changes; `wait_past(n)` returns as soon as the count passes `n` (or on timeout)."""

    def __init__(self) -> None:
        self.count = 0
        self._waiters: set[asyncio.Event] = set()

    def mark(self) -> None:
        """Record a change and wake every waiter (synchronous, from the event loop's thread)."""
        self.count += 1
        for waiter in self._waiters:
            waiter.set()

    async def wait_past(self, seen: int, timeout: float) -> int:
        """The count once it is above `seen`, or the current count after `timeout` seconds."""
        if self.count > seen:
            return self.count
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), timeout)
        finally:
            self._waiters.discard(waiter)
        return self.count
