"""The loopback API Kamailio asks: routing answers, HA1, reports, and bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from appliance.app import build_controller
from appliance.config import Settings
from appliance.controller.edge_http import build_edge_app
from appliance.domain.clock import ManualClock
from appliance.storage.directory import ha1


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    ctl = await build_controller(Settings(data_dir=tmp_path, demo=False), ManualClock())
    d = ctl.edge.directory
    await d.create_extension("101", "A")
    await d.create_extension("102", "B")
    await d.create_ring_group("600", "G", ["102"])
    ctl.sessions.directory = await d.load()
    app = build_edge_app(ctl.edge, "tok")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        yield c, ctl
    await ctl.db.close()


async def rows(ctl: object, sql: str) -> list[tuple[object, ...]]:
    async with ctl.db.execute(sql) as cur:  # type: ignore[attr-defined]
        return [tuple(r) for r in await cur.fetchall()]


async def test_routes(client: tuple[httpx.AsyncClient, object]) -> None:
    c, ctl = client
    r = await c.get("/internal/tok/route", params={"callid": "a", "from": "101", "to": "102"})
    assert r.json()["action"] == "extension" and r.json()["target"] == "102"
    r = await c.get("/internal/tok/route", params={"callid": "b", "from": "101", "to": "555"})
    assert r.json() == {"action": "reject", "target": "", "code": 404, "reason": "Not Found"}
    # no worker connected: the media pool is full -> 503 and an alarm
    r = await c.get("/internal/tok/route", params={"callid": "c", "from": "101", "to": "600"})
    assert r.json()["code"] == 503
    assert [x[0] for x in await rows(ctl, "SELECT code FROM alarms WHERE cleared_at IS NULL")] == ["media_pool_full"]
    cdrs = await rows(ctl, "SELECT call_id, kind, sip_code, cause FROM cdrs ORDER BY id")
    assert cdrs == [
        ("a", "extension", None, ""), ("b", "rejected", 404, "not_found"),
        ("c", "ring_group", 503, "media_pool_full"),
    ]


async def test_reports_close_the_direct_call(client: tuple[httpx.AsyncClient, object]) -> None:
    c, ctl = client
    await c.get("/internal/tok/route", params={"callid": "a", "from": "101", "to": "102"})
    r = await c.get("/internal/tok/report", params={"event": "answer", "callid": "a", "code": 200})
    assert r.status_code == 200
    ctl.clock.advance(7)  # type: ignore[attr-defined]
    await c.get("/internal/tok/report", params={"event": "bye", "callid": "a"})
    (kind, code, dur), = await rows(ctl, "SELECT kind, sip_code, duration_s FROM cdrs")
    assert (kind, code) == ("extension", 200) and abs(float(dur) - 7.0) < 0.01  # type: ignore[arg-type]


async def test_ha1(client: tuple[httpx.AsyncClient, object]) -> None:
    c, _ctl = client
    r = await c.get("/internal/tok/ha1", params={"user": "101"})
    assert r.status_code == 200 and len(r.json()["ha1"]) == 32
    assert (await c.get("/internal/tok/ha1", params={"user": "999"})).status_code == 404
    assert ha1("x", "y", "z") != r.json()["ha1"]


async def test_bad_input_is_refused_and_changes_nothing(client: tuple[httpx.AsyncClient, object]) -> None:
    c, ctl = client
    assert (await c.get("/internal/wrong/ha1", params={"user": "101"})).status_code == 403
    assert (await c.get("/internal/wrong/route", params={"callid": "z", "to": "102"})).status_code == 403
    assert (await c.get("/internal/tok/report", params={"event": "explode", "callid": "a"})).status_code == 422
    assert (await c.get("/internal/tok/route", params={"to": "102"})).status_code == 422
    r = await c.get("/internal/tok/report", params={"event": "final", "callid": "a", "code": 9999})
    assert r.status_code == 422
    assert await rows(ctl, "SELECT * FROM cdrs") == []
