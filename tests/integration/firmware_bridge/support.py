"""Test helpers for the modem integration tests: a manual clock and an event recorder."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from firmware_bridge.health import ModemState, ModemStateChanged
from firmware_bridge.modem import Modem
from firmware_bridge.simulator import ModemSimulator

WAIT = 10.0  # safety net only: every wait below awaits an event, never a fixed delay


class ManualClock:
    """A Clock whose time moves only when the test advances it."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, float, asyncio.Future[None]]] = []
        self._changed = asyncio.Event()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, seconds, fut))
        self._changed.set()
        try:
            await fut
        finally:
            self._sleepers = [s for s in self._sleepers if s[2] is not fut]

    def pending(self) -> list[float]:
        """Durations of the sleeps in progress."""
        return [d for _, d, f in self._sleepers if not f.done()]

    async def wait_for_sleeper(self, predicate: Callable[[float], bool] = lambda _d: True,
                               ) -> float:
        """Wait until something sleeps for a duration matching `predicate`; return it."""
        async def look() -> float:
            while True:
                for d in self.pending():
                    if predicate(d):
                        return d
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(look(), WAIT)

    def advance(self, seconds: float) -> None:
        """Move time forward and wake the sleepers that are due."""
        self.now += seconds
        for deadline, _, fut in list(self._sleepers):
            if deadline <= self.now + 1e-9 and not fut.done():
                fut.set_result(None)


class Recorder:
    """Collects a modem's events; tests await conditions on them."""

    def __init__(self, modem: Modem) -> None:
        self.events: list[Any] = []
        self._cond = asyncio.Condition()
        modem.add_listener(self._add)

    def _add(self, event: Any) -> None:
        self.events.append(event)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def wait_for(self, predicate: Callable[[Any], bool]) -> Any:
        """Wait for an event (already seen or future) matching `predicate`; return it."""
        async def look() -> Any:
            async with self._cond:
                while True:
                    for e in self.events:
                        if predicate(e):
                            return e
                    await self._cond.wait()
        return await asyncio.wait_for(look(), WAIT)

    async def wait_state(self, state: ModemState, after: int = 0) -> int:
        """Wait for the modem to enter `state` at event index >= after; return that index."""
        async def look() -> int:
            async with self._cond:
                while True:
                    for i in range(after, len(self.events)):
                        e = self.events[i]
                        if isinstance(e, ModemStateChanged) and e.new is state:
                            return i
                    await self._cond.wait()
        return await asyncio.wait_for(look(), WAIT)

    def of(self, kind: type) -> list[Any]:
        """Events of one type."""
        return [e for e in self.events if isinstance(e, kind)]


PROBE = 1000.0  # probe interval in the tests: far from any backoff delay


async def drive_until_ready(clock: ManualClock, rec: Recorder, after: int,
                            sim: ModemSimulator) -> tuple[int, list[float]]:
    """Advance the clock through reset backoffs until the modem is READY again.

    The simulated reset takes real time (the pty goes away and comes back); before each
    advance the test waits until the simulator's port exists again, as a USB device
    re-appears. Returns the index of the READY event and the backoff delays waited out.
    """
    delays: list[float] = []
    for _ in range(20):
        ready = asyncio.ensure_future(rec.wait_state(ModemState.READY, after))
        sleeper = asyncio.ensure_future(clock.wait_for_sleeper(lambda d: d < PROBE))
        done, _ = await asyncio.wait({ready, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        if ready in done:
            sleeper.cancel()
            return ready.result(), delays
        ready.cancel()
        delay = sleeper.result()
        delays.append(delay)
        if not await asyncio.to_thread(sim.port_up.wait, WAIT):
            raise AssertionError("simulated modem did not come back")
        clock.advance(delay)
    raise AssertionError(f"modem not ready after backoffs {delays}")
