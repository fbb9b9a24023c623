"""Fleet dashboard pages against a real box, broker and fleet service."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from appliance.sync.__main__ import demo_validate
from appliance.sync.client import SyncSettings
from appliance.sync.node import SyncHooks, SyncNode
from tests.integration.sync.conftest import PASSWORDS, STORE_KINDS
from tests.support.mosquitto import Mosquitto
from web.fleet.app import create_app
from web.fleet.service import FleetService

# Fleet-store behaviour: run on SQLite and on a real PostgreSQL server.
pytestmark = [pytest.mark.integration, pytest.mark.parametrize("store_kind", STORE_KINDS)]


async def test_dashboard_lists_boxes_and_pushes_config_showing_applied_and_rejected(
    broker: Mosquitto, fleet: FleetService, tmp_path: Path
) -> None:
    settings = SyncSettings("127.0.0.1", broker.port, "box-1", username="box-1",
                            password=PASSWORDS["box-1"], metrics_interval=0.05)
    node = await SyncNode.open(tmp_path / "box.db", settings, SyncHooks(
        validate_config=demo_validate,
        metrics=lambda: {"active_calls": 3, "queue_sl": 0.92, "modem_signal": -71}))
    await node.start()
    transport = httpx.ASGITransport(app=create_app(fleet))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://fleet") as web:
            await node.append("alarm", "alarm", {"alarm": "disk_low", "severity": "minor"})
            await node.append("cdr", "cdr", {"call_id": "c-1", "duration": 61})
            assert await fleet.wait_for(
                lambda: fleet.stored >= 4 and fleet.online.get("box-1") is True, 15)

            page = (await web.get("/")).text
            assert "box-1" in page and 'class="online"' in page
            assert "-71" in page  # modem signal from the metrics stream
            detail = await web.get("/box/box-1")
            assert detail.status_code == 200
            assert "disk_low" in detail.text and "c-1" in detail.text
            assert "<polyline" in detail.text  # a chart of the metrics
            assert (await web.get("/box/nope")).status_code == 404

            r = await web.post("/box/box-1/config", data={"config": '{"timezone": "UTC"}'})
            assert r.status_code == 303
            assert await fleet.wait_for(
                lambda: fleet.reported.get("box-1", {}).get("status") == "applied", 15)
            page = (await web.get("/box/box-1")).text
            assert "<b>applied</b>" in page and "UTC" in page

            r = await web.post("/box/box-1/config", data={"config": '{"max_calls": 0}'})
            assert r.status_code == 303
            assert await fleet.wait_for(
                lambda: fleet.reported.get("box-1", {}).get("status") == "rejected", 15)
            page = (await web.get("/box/box-1")).text
            assert "<b>rejected</b>" in page and "max_calls must be &gt;= 1" in page

            bad = await web.post("/box/box-1/config", data={"config": "{nope"})
            assert bad.status_code == 400 and "not pushed" in bad.text

            await node.stop()
            assert await fleet.wait_for(lambda: fleet.online.get("box-1") is False, 15)
            assert 'class="offline"' in (await web.get("/")).text
            boxes = (await web.get("/api/boxes")).json()
            assert boxes[0]["node"] == "box-1" and boxes[0]["online"] is False
    finally:
        if node.client.link.state.value != "stopped":
            await node.stop()
