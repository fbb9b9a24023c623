"""Listener fan-out and logged background tasks, shared by the modem and the voice gateway."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E")


def notify(listeners: Iterable[Callable[[E], None]], event: E, owner: str) -> None:
    """Tell every listener; one that raises is logged and does not stop the others."""
    for listener in list(listeners):
        try:
            listener(event)
        except Exception:
            log.exception("%s listener failed on %r", owner, event)


def spawn(tasks: set[asyncio.Task[None]], coro: Awaitable[None], owner: str) -> None:
    """Run `coro` in the background, kept in `tasks` until done; a failure is logged."""
    async def run() -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s background task failed", owner)

    task = asyncio.ensure_future(run())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
