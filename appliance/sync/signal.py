"""A condition to wait on ("something changed"), shared by the box client and the fleet."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class ChangeSignal:
    """Notify waiters after a change; wait until a predicate holds (bounded)."""

    def __init__(self) -> None:
        self._cond = asyncio.Condition()

    async def notify(self) -> None:
        """Wake every waiter to re-check its predicate."""
        async with self._cond:
            self._cond.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` holds; False on timeout."""
        async def _wait() -> None:
            async with self._cond:
                await self._cond.wait_for(predicate)
        try:
            await asyncio.wait_for(_wait(), timeout)
        except TimeoutError:
            return False
        return True
