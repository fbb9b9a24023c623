"""Supervision changes reach live views through the ACD's change counter (no wait for a tick)."""

from __future__ import annotations

from appliance.app import Controller
from appliance.controller.supervision import service_of


async def test_the_box_wires_supervision_changes_to_the_wallboards_counter(ctl: Controller) -> None:
    assert ctl.sessions.queues is not None
    changes = ctl.sessions.queues.changes
    supervision = service_of(ctl.sessions)
    before = changes.count
    supervision._changed()  # what start, a mode switch, the supervisor answering and the end call
    assert changes.count == before + 1
    assert await changes.wait_past(before, timeout=0.01) == before + 1
