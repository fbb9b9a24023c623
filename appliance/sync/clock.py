"""Injected time and randomness for the sync package, so tests advance time instead of sleeping."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in seconds since the epoch."""

    def now(self) -> float:
        """Return the current time in seconds since the epoch."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        """Return time.time()."""
        return time.time()


class ManualClock:
    """A clock a test moves by hand."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._t = start

    def now(self) -> float:
        """Return the current manual time."""
        return self._t

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self._t += seconds


Sleep = Callable[[float], Awaitable[None]]
RandomBytes = Callable[[int], bytes]


async def real_sleep(seconds: float) -> None:
    """Sleep on the running loop."""
    await asyncio.sleep(seconds)


def system_random_bytes(n: int) -> bytes:
    """Return n bytes from the OS CSPRNG."""
    return os.urandom(n)


def system_uniform() -> float:
    """Return a float in [0, 1) from the default PRNG (jitter does not need a CSPRNG)."""
    return random.random()
