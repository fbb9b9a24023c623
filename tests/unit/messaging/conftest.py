"""A real controller (tmp data dir, manual clock) with queue 700 and the SMS channel on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from appliance.app import Controller, build_controller
from appliance.config import Settings
from appliance.controller.messaging import SmsChannel
from appliance.domain.clock import ManualClock
from appliance.storage.directory import DirectoryStore
from appliance.storage.queues import QueueRow

QUEUE = QueueRow(number="700", name="Support queue", members=("102", "103"), wrap_up_s=5.0)


@dataclass
class Box:
    """The controller and its SMS channel."""

    ctl: Controller
    sms: SmsChannel
    clock: ManualClock

    async def rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the database as a user would check it."""
        async with self.ctl.db.execute(sql, args) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def login(self, agent: str) -> None:
        """The agent dials *45 (logs in to their queues)."""
        await self.ctl.queues.agent_command(agent, "*45")


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[Box]:
    clock = ManualClock()
    ctl = await build_controller(Settings(data_dir=tmp_path, demo=False), clock)
    directory = DirectoryStore(ctl.db, ctl.settings.realm)
    for n in ("101", "102", "103"):
        await directory.create_extension(n, f"Ext {n}")
    await ctl.queues.store.create_queue(QUEUE)
    ctl.queues.configure(await ctl.queues.store.load())
    existing = getattr(ctl, "sms", None)
    sms = existing if isinstance(existing, SmsChannel) else SmsChannel.open(
        ctl.settings.db_path, ctl.db, ctl.sessions.store, clock, lambda: ctl.sessions.queues)
    try:
        yield Box(ctl, sms, clock)
    finally:
        await ctl.queues.stop()
        sms.close()
        await ctl.db.close()
