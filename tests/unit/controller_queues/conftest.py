"""Shared fixture for the controller/queues unit tests: a demo box on a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appliance.app import Controller, build_controller
from appliance.config import Settings
from appliance.domain.clock import ManualClock


@pytest.fixture
async def ctl(tmp_path: Path) -> AsyncIterator[Controller]:
    """A demo controller (extensions 101-105) on a ManualClock; its ACD stopped and database closed after."""
    c = await build_controller(Settings(data_dir=tmp_path, demo=True), ManualClock())
    try:
        yield c
    finally:
        if c.sessions.queues is not None:
            await c.sessions.queues.stop()
        await c.db.close()
