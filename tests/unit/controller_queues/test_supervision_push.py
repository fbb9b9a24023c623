"""Supervision changes reach live views through the ACD's change counter (no wait for a tick)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appliance.app import Controller, build_controller
from appliance.config import Settings
from appliance.controller.supervision import service_of
from appliance.domain.clock import ManualClock


@pytest.fixture
async def ctl(tmp_path: Path) -> AsyncIterator[Controller]:
    c = await build_controller(Settings(data_dir=tmp_path, demo=True), ManualClock())
    try:
        yield c
    finally:
        await c.db.close()


async def test_the_box_wires_supervision_changes_to_the_wallboards_counter(ctl: Controller) -> None:
    assert ctl.sessions.queues is not None
    changes = ctl.sessions.queues.changes
    supervision = service_of(ctl.sessions)
    before = changes.count
    supervision._changed()  # what start, a mode switch, the supervisor answering and the end call
    assert changes.count == before + 1
    assert await changes.wait_past(before, timeout=0.01) == before + 1
