"""The cloud link on /system and /api/v1/system, against a real mosquitto: connected, broker
stopped -> offline since that moment, broker back -> connected again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from appliance.app import Controller, build_controller
from appliance.cloud import Cloud, start_cloud
from appliance.config import Settings
from appliance.sync.link import State
from tests.support.mosquitto import Mosquitto
from web.local.app import build_web_app

pytestmark = pytest.mark.integration

ADMIN = ("admin", "admin password 1")


async def until(states: asyncio.Queue[State], wanted: State) -> None:
    """Consume the link's transitions until `wanted` (bounded by the caller)."""
    while await states.get() is not wanted:
        pass


@pytest.fixture
async def linked(tmp_path: Path) -> AsyncIterator[tuple[Controller, Cloud, Mosquitto, asyncio.Queue[State]]]:
    """A controller with cloud sync to a real broker, and the link's transitions as they happen."""
    broker = Mosquitto(tmp_path / "broker", {"box-1": "pw-1"})
    broker.start()
    ctl = await build_controller(Settings(data_dir=tmp_path / "data", demo=False))
    ctl.settings.extra["cloud"] = {"host": "127.0.0.1", "port": broker.port, "node": "box-1",
                                   "username": "box-1", "password": "pw-1", "keepalive": 5}
    cloud = None
    try:
        cloud = await start_cloud(ctl)
        assert cloud is not None
        states: asyncio.Queue[State] = asyncio.Queue()
        cloud.node.client.link.listeners.append(lambda _old, new: states.put_nowait(new))
        yield ctl, cloud, broker, states
    finally:
        if cloud is not None:
            await cloud.stop()
        broker.stop()
        await ctl.db.close()


async def test_status_shows_the_cloud_link_connected_then_offline_then_back(
    linked: tuple[Controller, Cloud, Mosquitto, asyncio.Queue[State]],
) -> None:
    ctl, cloud, broker, states = linked
    app = build_web_app(ctl)
    app.state.services.health.probe_sip = lambda ip, port, timeout: None  # no Kamailio here
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("192.0.2.10", 50000)),
                                 base_url="https://box.test") as web:
        r = await web.post("/api/v1/setup", json={"username": ADMIN[0], "password": ADMIN[1]})
        assert r.status_code == 201, r.text
        if not cloud.node.client.connected:
            await asyncio.wait_for(until(states, State.CONNECTED), 20)
        s = (await web.get("/api/v1/system")).json()["cloud"]
        assert s["configured"] is True and s["state"] == "connected" and s["link"] == "connected"
        assert s["connects"] == 1 and isinstance(s["backlog"], int)
        page = (await web.get("/system")).text
        assert 'data-state="connected"' in page and "data-field=\"cloud_since\"" in page

        before_stop = ctl.clock.now()
        await asyncio.to_thread(broker.stop)
        await asyncio.wait_for(until(states, State.WAITING), 20)
        s = (await web.get("/api/v1/system")).json()["cloud"]
        assert s["state"] == "offline" and datetime.fromisoformat(s["since"]) >= before_stop
        assert s["last_connected"] is not None and datetime.fromisoformat(s["last_connected"]) <= before_stop
        page = (await web.get("/system")).text
        assert 'data-state="offline"' in page and s["since"][:19].replace("T", " ") in page

        await asyncio.to_thread(broker.start)
        await asyncio.wait_for(until(states, State.CONNECTED), 30)
        s = (await web.get("/api/v1/system")).json()["cloud"]
        assert s["state"] == "connected" and s["connects"] == 2
