"""Trunks, outbound routes and toll-fraud limits through /api/v1: success, role denial, bad input
(a 4xx with a reason, nothing written), routing follows at once."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from appliance.controller.edge_http import build_edge_app
from tests.unit.web.conftest import Box

_CALLS = itertools.count()
TRUNK = {"name": "itsp", "kind": "sip", "host": "127.0.0.1", "port": 5090, "username": "acct",
         "password": "s3cret-trunk-pass", "health_check": False}
ROUTE = {"name": "national", "pattern": "0[1-9][0-9]{8}", "trunks": ["itsp"],
         "caller_id": {"sip": {"mode": "fixed", "number": "+442071234567"}}}


async def edge_route(b: Box, dialed: str, src: str = "phone", addr: str = "", au: str = "") -> dict[str, Any]:
    """What Kamailio would be told for a new call (from 101; `au` is who authenticated)."""
    app = build_edge_app(b.ctl.edge, "tok")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        r = await c.get("/internal/tok/route", params={"callid": f"c-{next(_CALLS)}", "from": "101", "to": dialed,
                                                       "src": src, "addr": addr, "au": au})
        return dict(r.json())


async def peer(b: Box, addr: str) -> int:
    app = build_edge_app(b.ctl.edge, "tok")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        return (await c.get("/internal/tok/peer", params={"addr": addr})).status_code


async def trunk_rows(b: Box) -> dict[str, list[tuple[Any, ...]]]:
    tables = ["trunks", "outbound_routes", "outbound_route_trunks", "outbound_caller_ids", "toll_policy",
              "toll_classes"]
    return {t: await b.rows(f"SELECT * FROM {t} ORDER BY 1") for t in tables}


async def test_trunk_and_route_lifecycle_routes_at_once(box: Box) -> None:
    c = await box.login("admin")
    assert (await edge_route(box, "0201234567"))["code"] == 404
    assert await peer(box, "127.0.0.1:5090") == 404
    r = await c.post("/api/v1/trunks", json=TRUNK)
    assert r.status_code == 201, r.text
    assert r.json()["has_password"] is True and "password" not in r.json()
    assert await peer(box, "127.0.0.1:5090") == 200  # its INVITEs are now trunk calls
    r = await c.post("/api/v1/outbound-routes", json=ROUTE)
    assert r.status_code == 201, r.text
    assert r.json()["caller_id"]["sip"]["number"] == "+442071234567"
    # now an OUTBOUND session (no media worker in this unit box: refused 503 as pool full)
    assert (await edge_route(box, "0201234567"))["code"] == 503
    kinds = await box.rows("SELECT kind FROM cdrs WHERE callee = '0201234567' ORDER BY id")
    assert kinds == [("rejected",), ("outbound",)]
    # an external call must come from the authenticated user's own number (toll-fraud limits are theirs)
    spoofed = await edge_route(box, "0201234567", au="102")
    assert spoofed["code"] == 403 and spoofed["reason"] == "From Does Not Match Credentials"
    # a trunk's own call never goes out again
    assert (await edge_route(box, "0201234567", "trunk", "127.0.0.1:5090"))["code"] == 404
    assert (await edge_route(box, "0201234567", "trunk", "127.0.0.1:9999"))["code"] == 403
    # the password is never shown, and an update without one keeps it
    r = await c.put("/api/v1/trunks/itsp", json={k: v for k, v in TRUNK.items() if k not in ("name", "password")})
    assert r.status_code == 200 and r.json()["has_password"] is True
    listed = (await c.get("/api/v1/trunks")).json()
    assert [t["name"] for t in listed] == ["itsp"] and listed[0]["state"] == "unknown"
    assert "s3cret" not in str(await box.rows("SELECT * FROM trunks"))
    # a used trunk cannot go; the route first
    r = await c.delete("/api/v1/trunks/itsp")
    assert r.status_code == 422 and r.json()["error_id"] == "name_invalid"
    assert (await c.delete("/api/v1/outbound-routes/national")).status_code == 204
    assert (await edge_route(box, "0201234568"))["code"] == 404
    assert (await c.delete("/api/v1/trunks/itsp")).status_code == 204
    assert await peer(box, "127.0.0.1:5090") == 404
    actions = [r[0] for r in await box.rows("SELECT action FROM audit_log WHERE action LIKE 'trunk%'"
                                            " OR action LIKE 'outbound%' ORDER BY id")]
    assert actions == ["trunk.create", "outbound_route.create", "trunk.update", "outbound_route.delete",
                       "trunk.delete"]
    assert "s3cret" not in str(await box.rows("SELECT detail FROM audit_log"))


async def test_toll_policy_round_trip(box: Box) -> None:
    c = await box.login("admin")
    body = {"allowed_patterns": ["0[0-9]{9,}"], "blocked": [{"prefix": "00", "needs": "international"}],
            "default_class": "local", "classes": {"101": "premium"}, "max_calls_per_hour": 5}
    r = await c.put("/api/v1/toll-policy", json=body)
    assert r.status_code == 200, r.text
    assert (await c.get("/api/v1/toll-policy")).json() == body
    s = await box.login("sup")
    assert (await s.get("/api/v1/toll-policy")).json() == body


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/api/v1/trunks", TRUNK),
    ("post", "/api/v1/outbound-routes", ROUTE),
    ("put", "/api/v1/toll-policy", {"allowed_patterns": ["0[0-9]+"], "blocked": []}),
    ("delete", "/api/v1/trunks/itsp", None),
])
async def test_supervisor_may_not_change(box: Box, method: str, path: str, body: dict[str, Any] | None) -> None:
    c = await box.login("sup")
    before = await trunk_rows(box)
    r = await c.request(method, path, json=body)
    assert r.status_code == 403
    assert await trunk_rows(box) == before


async def test_agent_may_not_read(box: Box) -> None:
    c = await box.login("agent")
    assert (await c.get("/api/v1/trunks")).status_code == 403


@pytest.mark.parametrize(("path", "body", "status", "error_id"), [
    ("/api/v1/trunks", {**TRUNK, "host": "not a host"}, 422, "host_invalid"),
    ("/api/v1/trunks", {**TRUNK, "port": 0}, 422, "port_invalid"),
    ("/api/v1/trunks", {**TRUNK, "name": "Bad Name"}, 422, "name_invalid"),
    ("/api/v1/trunks", {**TRUNK, "username": None}, 422, "password_invalid"),
    ("/api/v1/trunks", {**TRUNK, "kind": "pots"}, 422, None),
    ("/api/v1/outbound-routes", {**ROUTE, "trunks": ["nope"]}, 422, "trunks_invalid"),
    ("/api/v1/outbound-routes", {**ROUTE, "pattern": "("}, 422, "pattern_invalid"),
    ("/api/v1/outbound-routes", {**ROUTE, "pattern": ".*"}, 422, "pattern_invalid"),
    ("/api/v1/outbound-routes", {**ROUTE, "caller_id": {"sip": {"mode": "fixed"}}}, 422, "caller_id_number_invalid"),
    ("/api/v1/toll-policy", {"allowed_patterns": [], "blocked": []}, 422, "allowed_patterns_invalid"),
    ("/api/v1/toll-policy", {"allowed_patterns": ["0+"], "blocked": [], "classes": {"999": "premium"}}, 422,
     "classes_invalid"),
    ("/api/v1/toll-policy", {"allowed_patterns": ["0+"], "blocked": [{"prefix": "x", "needs": "premium"}]}, 422,
     "blocked_prefix_invalid"),
])
async def test_bad_input_is_refused_with_a_reason_and_nothing_written(
    box: Box, path: str, body: dict[str, Any], status: int, error_id: str | None
) -> None:
    c = await box.login("admin")
    if path == "/api/v1/outbound-routes":
        assert (await c.post("/api/v1/trunks", json=TRUNK)).status_code == 201
    before = await trunk_rows(box)
    method = "put" if path.endswith("toll-policy") else "post"
    r = await c.request(method, path, json=body)
    assert r.status_code == status, r.text
    if error_id:
        assert r.json()["error_id"] == error_id and r.json()["message"]
    assert await trunk_rows(box) == before


async def test_unknown_names_are_404(box: Box) -> None:
    c = await box.login("admin")
    assert (await c.get("/api/v1/trunks/nope")).status_code == 404
    assert (await c.delete("/api/v1/outbound-routes/nope")).status_code == 404
    r = await c.put("/api/v1/trunks/nope", json={"host": "127.0.0.1"})
    assert r.status_code == 404 and r.json()["error_id"] == "trunk_not_found"
