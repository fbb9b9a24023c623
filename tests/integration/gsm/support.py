"""Helpers for the GSM gateway tests: an event collector and PCM captured as a WAV."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware_bridge.simulator import ModemSimulator

WAIT = 15.0  # safety net only: waits below end on an event or a condition


class Events:
    """Collects events from a listener callback; tests await conditions on them."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    def add(self, event: Any) -> None:
        """Listener entry point."""
        self.items.append(event)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[Any], bool], after: int = 0) -> Any:
        """Wait for an event at index >= after matching `predicate`; return it."""
        async def look() -> Any:
            while True:
                for e in self.items[after:]:
                    if predicate(e):
                        return e
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(look(), WAIT)


async def until(condition: Callable[[], bool], what: str | Callable[[], str],
                timeout: float = WAIT) -> None:
    """Wait until `condition()` holds (checked every 20 ms, the PCM frame period)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            text = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout} s waiting for {text}")
        await asyncio.sleep(0.02)


def pcm_wav(sim: ModemSimulator, path: Path, last_seconds: float = 1.5) -> str:
    """Write the last seconds of PCM the simulated modem received into a WAV; return it."""
    with sim.locked():
        data = bytes(sim.pcm_received)
    data = data[-int(8000 * 2 * last_seconds):]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(data)
    return str(path)
