"""Extensions and ring groups through /api/v1: success, role denial, bad input, routing at once."""

from __future__ import annotations

import httpx
import pytest

from appliance.controller.edge_http import build_edge_app
from appliance.storage.directory import ha1
from tests.unit.web.conftest import Box


async def edge_route(box: Box, dialed: str, caller: str = "101") -> dict[str, object]:
    """Ask the controller what Kamailio would ask: where does this call go."""
    app = build_edge_app(box.ctl.edge, "tok")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        r = await c.get("/internal/tok/route", params={"callid": f"c-{dialed}-{id(box)}", "from": caller, "to": dialed})
        result: dict[str, object] = r.json()
        return result


async def test_extension_lifecycle_routes_at_once(box: Box) -> None:
    c = await box.login("admin")
    assert (await edge_route(box, "150"))["code"] == 404
    r = await c.post("/api/v1/extensions", json={"number": "150", "display_name": "Front desk"})
    assert r.status_code == 201
    created = r.json()
    assert created["number"] == "150" and len(created["sip_password"]) == 16
    (stored,), = await box.rows("SELECT ha1 FROM extensions WHERE number = '150'")
    assert stored == ha1("150", box.ctl.settings.realm, created["sip_password"])
    assert (await edge_route(box, "150"))["action"] == "extension"
    # the password is never shown again
    r = await c.get("/api/v1/extensions/150")
    assert r.json() == {"number": "150", "display_name": "Front desk", "enabled": True}
    # reset: new password, old HA1 gone
    r = await c.post("/api/v1/extensions/150/password")
    new = r.json()["sip_password"]
    assert r.status_code == 200 and new != created["sip_password"]
    (stored,), = await box.rows("SELECT ha1 FROM extensions WHERE number = '150'")
    assert stored == ha1("150", box.ctl.settings.realm, new)
    # rename and disable: routing stops at once
    r = await c.patch("/api/v1/extensions/150", json={"display_name": "Lobby", "enabled": False})
    assert r.json() == {"number": "150", "display_name": "Lobby", "enabled": False}
    assert (await edge_route(box, "150"))["code"] == 404
    await c.patch("/api/v1/extensions/150", json={"enabled": True})
    assert (await edge_route(box, "150"))["action"] == "extension"
    assert (await c.delete("/api/v1/extensions/150")).status_code == 204
    assert (await c.get("/api/v1/extensions/150")).json()["error_id"] == "extension_not_found"
    assert (await edge_route(box, "150"))["code"] == 404
    actions = [r[0] for r in await box.rows("SELECT action FROM audit_log WHERE target = '150' ORDER BY id")]
    assert actions == ["extension.create", "extension.reset_password", "extension.update", "extension.update",
                       "extension.delete"]


@pytest.mark.parametrize(("body", "status", "error_id"), [
    ({"number": "1"}, 422, "number_invalid"),
    ({"number": "123456789"}, 422, "number_invalid"),
    ({"number": "*43"}, 422, "number_reserved"),
    ({"number": "12ab"}, 422, "number_invalid"),
    ({"number": "101"}, 409, "number_taken"),
    ({"number": "600"}, 409, "number_taken"),
    ({"number": "150", "display_name": "x" * 65}, 422, "name_invalid"),
    ({"number": "150", "extra": 1}, 422, "validation_failed"),
    ({"display_name": "no number"}, 422, "validation_failed"),
    ({"number": 150}, 422, "validation_failed"),
])
async def test_bad_extension_input_is_refused_and_changes_nothing(
        box: Box, body: dict[str, object], status: int, error_id: str) -> None:
    c = await box.login("admin")
    before = await box.snapshot()
    r = await c.post("/api/v1/extensions", json=body)
    assert (r.status_code, r.json()["error_id"]) == (status, error_id), r.text
    assert r.json()["message"]
    assert await box.snapshot() == before


async def test_missing_extension_is_404_everywhere(box: Box) -> None:
    c = await box.login("admin")
    for method, url, body in (("GET", "/api/v1/extensions/999", None), ("PATCH", "/api/v1/extensions/999", {}),
                              ("POST", "/api/v1/extensions/999/password", None),
                              ("DELETE", "/api/v1/extensions/999", None)):
        r = await c.request(method, url, json=body)
        assert r.status_code == 404 and r.json()["error_id"] == "extension_not_found", (method, url)


async def test_roles_on_extensions(box: Box) -> None:
    sup, agent = await box.login("sup"), await box.login("agent")
    assert (await sup.get("/api/v1/extensions")).status_code == 200
    before = await box.snapshot()
    for who in (sup, agent):
        for method, url, body in (("POST", "/api/v1/extensions", {"number": "150"}),
                                  ("PATCH", "/api/v1/extensions/101", {"enabled": False}),
                                  ("POST", "/api/v1/extensions/101/password", None),
                                  ("DELETE", "/api/v1/extensions/101", None)):
            r = await who.request(method, url, json=body)
            assert r.status_code == 403 and r.json()["error_id"] == "role_forbidden", (method, url)
    assert (await agent.get("/api/v1/extensions")).status_code == 403
    assert (await box.client().get("/api/v1/extensions")).status_code == 401
    assert await box.snapshot() == before


async def test_ring_group_lifecycle(box: Box) -> None:
    c = await box.login("admin")
    r = await c.post("/api/v1/ring-groups", json={"number": "700", "name": "Sales", "members": ["103", "101"],
                                                  "ring_seconds": 20, "record": False})
    assert r.status_code == 201
    # routing knows the group at once (no media worker in this test, so the pool answers 503, not 404)
    assert (await edge_route(box, "700", caller="102"))["code"] == 503
    assert box.ctl.sessions.directory.ring_groups["700"].members == ("103", "101")
    r = await c.patch("/api/v1/ring-groups/700", json={"members": ["101", "102", "103"], "ring_seconds": 9})
    assert r.json() == {"number": "700", "name": "Sales", "members": ["101", "102", "103"], "ring_seconds": 9,
                        "record": False}
    group = box.ctl.sessions.directory.ring_groups["700"]
    assert group.members == ("101", "102", "103") and group.ring_seconds == 9
    # deleting a member extension takes it out of the group
    await c.delete("/api/v1/extensions/102")
    assert (await c.get("/api/v1/ring-groups/700")).json()["members"] == ["101", "103"]
    assert [g["number"] for g in (await c.get("/api/v1/ring-groups")).json()] == ["600", "700"]
    assert (await c.delete("/api/v1/ring-groups/700")).status_code == 204
    assert "700" not in box.ctl.sessions.directory.ring_groups
    assert (await edge_route(box, "700"))["code"] == 404


@pytest.mark.parametrize(("body", "status", "error_id"), [
    ({"number": "700", "name": "S", "members": ["999"]}, 422, "unknown_member"),
    ({"number": "700", "name": "S", "members": ["101", "101"]}, 422, "duplicate_member"),
    ({"number": "700", "name": "S", "members": ["101"], "ring_seconds": 2}, 422, "ring_seconds_invalid"),
    ({"number": "101", "name": "S", "members": ["102"]}, 409, "number_taken"),
    ({"number": "*43", "name": "S", "members": ["102"]}, 422, "number_reserved"),
    ({"number": "700", "members": ["102"]}, 422, "validation_failed"),
])
async def test_bad_ring_group_input_is_refused_and_changes_nothing(
        box: Box, body: dict[str, object], status: int, error_id: str) -> None:
    c = await box.login("admin")
    before = await box.snapshot()
    r = await c.post("/api/v1/ring-groups", json=body)
    assert (r.status_code, r.json()["error_id"]) == (status, error_id), r.text
    assert await box.snapshot() == before


async def test_bad_ring_group_update_changes_nothing(box: Box) -> None:
    c = await box.login("admin")
    before = await box.snapshot()
    # name is valid but members are not: the whole update is refused, the name stays
    r = await c.patch("/api/v1/ring-groups/600", json={"name": "Renamed", "members": ["102", "999"]})
    assert r.status_code == 422 and r.json()["details"]["unknown"] == ["999"]
    assert await box.snapshot() == before
    assert (await c.patch("/api/v1/ring-groups/601", json={"name": "x"})).status_code == 404


async def test_roles_on_ring_groups(box: Box) -> None:
    sup, agent = await box.login("sup"), await box.login("agent")
    assert (await sup.get("/api/v1/ring-groups/600")).status_code == 200
    assert (await agent.get("/api/v1/ring-groups")).status_code == 403
    before = await box.snapshot()
    for method, url, body in (("POST", "/api/v1/ring-groups", {"number": "700", "name": "S", "members": []}),
                              ("PATCH", "/api/v1/ring-groups/600", {"name": "x"}),
                              ("DELETE", "/api/v1/ring-groups/600", None)):
        assert (await sup.request(method, url, json=body)).status_code == 403
    assert await box.snapshot() == before


async def test_concurrent_admin_changes_and_cdr_writes_all_land(box: Box) -> None:
    """Admin writes run on their own connection: none is lost, none sweeps a CDR into its transaction."""
    import asyncio

    from appliance.storage.calls import CallStore
    from tests.unit.web.test_api_reports import T0

    c = await box.login("admin")
    store = CallStore(box.ctl.db)

    async def cdr(i: int) -> None:
        await store.cdr_open(f"busy{i}", "extension", "101", "102", T0)

    creates = [c.post("/api/v1/extensions", json={"number": f"3{i:02d}"}) for i in range(20)]
    refused = [c.post("/api/v1/extensions", json={"number": "101"}) for _ in range(5)]  # roll back mid-traffic
    answers, _ = await asyncio.gather(asyncio.gather(*creates, *refused),
                                      asyncio.gather(*[cdr(i) for i in range(40)]))
    assert [r.status_code for r in answers] == [201] * 20 + [409] * 5
    assert len(await box.rows("SELECT * FROM extensions WHERE number LIKE '3%'")) == 20
    assert len(await box.rows("SELECT * FROM cdrs WHERE call_id LIKE 'busy%'")) == 40
    assert len(box.ctl.sessions.directory.extensions) == 23
