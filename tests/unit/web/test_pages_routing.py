"""Trunks, outbound routes, toll-fraud and user<->extension pages: right role renders, wrong role is
refused, a form with bad input shows the API's reason and writes nothing."""

from __future__ import annotations

from typing import Any

import httpx

from appliance.controller.outbound import find_service
from appliance.trunks.health import TrunkState
from tests.unit.web.conftest import Box
from tests.unit.web.test_pages import page_login

TRUNK_FORM = {"name": "itsp", "kind": "sip", "host": "127.0.0.1", "port": "5090", "transport": "udp",
              "username": "acct", "password": "s3cret-trunk-pass", "answer_timeout_s": "4", "enabled": "1"}
ROUTE_FORM = {"name": "national", "pattern": "0[1-9][0-9]{8}", "trunks": "itsp, gsm", "cid_sip_mode": "fixed",
              "cid_sip_number": "+442071234567", "cid_gsm_mode": "rewrite", "cid_gsm_strip": "1",
              "cid_gsm_prefix": "+44", "strip": "0", "ring_seconds": "45", "priority": "10", "record": "1"}


async def trunk_rows(b: Box) -> dict[str, list[tuple[Any, ...]]]:
    tables = ["trunks", "outbound_routes", "outbound_route_trunks", "outbound_caller_ids", "toll_policy",
              "toll_classes", "web_user_extensions"]
    rows = {t: await b.rows(f"SELECT * FROM {t} ORDER BY 1") for t in tables}
    rows["changes"] = await b.rows("SELECT * FROM audit_log WHERE action NOT LIKE 'login%' ORDER BY 1")
    return rows


async def admin_page(box: Box) -> tuple[httpx.AsyncClient, str]:
    return await page_login(box, "admin")


async def test_trunks_page_create_edit_disable_delete_password_never_shown(box: Box) -> None:
    c, token = await admin_page(box)
    r = await c.post("/trunks", data={**TRUNK_FORM, "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/trunks"
    page = await c.get("/trunks")
    assert page.status_code == 200 and 'data-trunk="itsp"' in page.text and "127.0.0.1:5090" in page.text
    assert "s3cret-trunk-pass" not in page.text and "stored, not shown" in page.text
    (sealed,), = await box.rows("SELECT secret FROM trunks WHERE name = 'itsp'")
    assert sealed and b"s3cret-trunk-pass" not in bytes(sealed)
    # edit with a blank password keeps the stored one
    r = await c.post("/trunks/itsp", data={**TRUNK_FORM, "password": "", "port": "5091", "csrf_token": token})
    assert r.status_code == 303
    api = await box.login("admin")
    got = (await api.get("/api/v1/trunks/itsp")).json()
    assert got["port"] == 5091 and got["has_password"] is True and got["enabled"] is True
    # disable, keeping every other setting
    assert (await c.post("/trunks/itsp/enabled", data={"csrf_token": token})).status_code == 303
    got = (await api.get("/api/v1/trunks/itsp")).json()
    assert got["enabled"] is False and got["port"] == 5091 and got["has_password"] is True
    assert "(disabled)" in (await c.get("/trunks")).text
    assert (await c.post("/trunks/itsp/enabled", data={"enabled": "1", "csrf_token": token})).status_code == 303
    assert (await api.get("/api/v1/trunks/itsp")).json()["enabled"] is True
    actions = [a for (a,) in await box.rows("SELECT action FROM audit_log WHERE action LIKE 'trunk.%' ORDER BY id")]
    assert actions == ["trunk.create", "trunk.update", "trunk.update", "trunk.update"]
    assert (await c.post("/trunks/itsp/delete", data={"csrf_token": token})).status_code == 303
    assert await box.rows("SELECT name FROM trunks") == []


async def test_trunks_page_refusals_show_the_reason_and_write_nothing(box: Box) -> None:
    c, token = await admin_page(box)
    assert (await c.post("/trunks", data={**TRUNK_FORM, "csrf_token": token})).status_code == 303
    before = await trunk_rows(box)
    r = await c.post("/trunks", data={**TRUNK_FORM, "name": "bad", "host": "", "csrf_token": token})
    assert r.status_code == 422 and "host_invalid" in r.text
    r = await c.post("/trunks", data={**TRUNK_FORM, "name": "bad", "port": "99999", "csrf_token": token})
    assert r.status_code == 422 and "port_invalid" in r.text
    r = await c.post("/trunks", data={**TRUNK_FORM, "name": "bad", "port": "five", "csrf_token": token})
    assert r.status_code == 422 and "port_invalid" in r.text and "port:" in r.text
    r = await c.post("/trunks", data={**TRUNK_FORM, "csrf_token": token})  # the name is taken
    assert r.status_code in (409, 422) and "itsp" in r.text
    r = await c.post("/trunks/nope", data={**TRUNK_FORM, "csrf_token": token})
    assert r.status_code == 404 and "trunk_not_found" in r.text
    r = await c.post("/trunks", data={**TRUNK_FORM, "name": "other"})  # no CSRF token
    assert r.status_code == 403
    assert await trunk_rows(box) == before


async def test_trunk_status_is_live_and_polled_by_the_page(box: Box) -> None:
    c, token = await admin_page(box)
    assert (await c.post("/trunks", data={**TRUNK_FORM, "csrf_token": token})).status_code == 303
    sup = await box.login("sup")
    first = (await sup.get("/api/v1/trunk-status")).json()
    assert first == [{"name": "itsp", "kind": "sip", "enabled": True, "health_check": False, "state": "unknown",
                      "last_code": None, "since": None}]
    svc = find_service(box.ctl.sessions.flows)
    box.clock.advance(30)
    await svc.monitor.observe("itsp", True, 200)  # an OPTIONS answer
    assert svc.monitor.health["itsp"].state is TrunkState.UP
    box.clock.advance(5)
    now = (await sup.get("/api/v1/trunk-status")).json()[0]
    assert now["state"] == "up" and now["last_code"] == 200 and now["since"] == "2026-01-01T00:00:30.000Z"
    page = await c.get("/trunks")
    assert 'class="state state-up"' in page.text and "2026-01-01 00:00:30" in page.text
    assert '<script src="/static/trunks.js" defer></script>' in page.text
    assert "data-trunk-status" in (await c.get("/static/trunks.js")).text
    await svc.monitor.observe("itsp", False, None)
    await svc.monitor.observe("itsp", False, 503)
    assert (await sup.get("/api/v1/trunk-status")).json()[0]["state"] == "down"
    agent = await box.login("agent")
    assert (await agent.get("/api/v1/trunk-status")).status_code == 403


async def test_supervisors_read_trunks_and_routes_agents_are_refused(box: Box) -> None:
    admin, token = await admin_page(box)
    await admin.post("/trunks", data={**TRUNK_FORM, "csrf_token": token})
    sup, sup_token = await page_login(box, "sup")
    page = await sup.get("/trunks")
    assert page.status_code == 200 and 'data-trunk="itsp"' in page.text and "Create trunk" not in page.text
    routes = await sup.get("/routes")
    assert routes.status_code == 200 and "Create route" not in routes.text and "Toll-fraud limits" in routes.text
    before = await trunk_rows(box)
    r = await sup.post("/trunks", data={**TRUNK_FORM, "name": "x", "csrf_token": sup_token})
    assert r.status_code == 403 and "role_forbidden" in r.text
    r = await sup.post("/toll-policy", data={"max_calls_per_hour": "1", "csrf_token": sup_token})
    assert r.status_code == 403
    agent, agent_token = await page_login(box, "agent")
    for path in ("/trunks", "/routes"):
        assert (await agent.get(path)).status_code == 403
    assert (await agent.post("/routes", data={**ROUTE_FORM, "csrf_token": agent_token})).status_code == 403
    assert await trunk_rows(box) == before


async def test_routes_page_creates_a_route_with_failover_order_and_caller_ids(box: Box) -> None:
    c, token = await admin_page(box)
    assert "Add a trunk first" in (await c.get("/routes")).text
    await c.post("/trunks", data={**TRUNK_FORM, "csrf_token": token})
    await c.post("/trunks", data={**TRUNK_FORM, "name": "gsm", "kind": "gsm", "port": "5070", "csrf_token": token})
    r = await c.post("/routes", data={**ROUTE_FORM, "csrf_token": token})
    assert r.status_code == 303, r.text
    api = await box.login("admin")
    (route,) = (await api.get("/api/v1/outbound-routes")).json()
    assert route["trunks"] == ["itsp", "gsm"] and route["ring_seconds"] == 45 and route["priority"] == 10
    assert route["caller_id"] == {"sip": {"mode": "fixed", "number": "+442071234567", "strip": 0, "prefix": ""},
                                  "gsm": {"mode": "rewrite", "number": "", "strip": 1, "prefix": "+44"}}
    page = (await c.get("/routes")).text
    assert 'data-route="national"' in page and "itsp → gsm" in page and "+442071234567" in page
    # failover order changed on the edit form; keep caller-ID on GSM
    r = await c.post("/routes/national", data={**ROUTE_FORM, "trunks": "gsm itsp", "cid_gsm_mode": "keep",
                                               "csrf_token": token})
    assert r.status_code == 303
    (route,) = (await api.get("/api/v1/outbound-routes")).json()
    assert route["trunks"] == ["gsm", "itsp"] and set(route["caller_id"]) == {"sip"}
    # a trunk a route uses cannot be deleted: the reason is shown, nothing written
    before = await trunk_rows(box)
    r = await c.post("/trunks/gsm/delete", data={"csrf_token": token})
    assert r.status_code == 422 and "used by an outbound route" in r.text
    assert await trunk_rows(box) == before
    assert (await c.post("/routes/national/delete", data={"csrf_token": token})).status_code == 303
    assert await box.rows("SELECT name FROM outbound_routes") == []


async def test_routes_page_refusals_show_the_reason_and_write_nothing(box: Box) -> None:
    c, token = await admin_page(box)
    await c.post("/trunks", data={**TRUNK_FORM, "csrf_token": token})
    before = await trunk_rows(box)
    cases = [
        ({"pattern": "0[1-9"}, "pattern_invalid"),
        ({"trunks": "nosuch"}, "trunks_invalid"),
        ({"trunks": ""}, "trunks_invalid"),
        ({"cid_sip_number": "not a number"}, "caller_id"),
        ({"ring_seconds": "2"}, "ring_seconds_invalid"),
        ({"ring_seconds": "soon"}, "ring_seconds_invalid"),
    ]
    for change, error_id in cases:
        r = await c.post("/routes", data={**ROUTE_FORM, "trunks": "itsp", "cid_gsm_mode": "keep", **change,
                                          "csrf_token": token})
        assert r.status_code == 422 and error_id in r.text, (change, r.status_code, r.text[-600:])
        assert 'class="error" role="alert"' in r.text
    assert await trunk_rows(box) == before


async def test_toll_policy_form_sets_classes_per_extension_and_refuses_bad_lines(box: Box) -> None:
    c, token = await admin_page(box)
    form = {"allowed_patterns": "0[1-9][0-9]{8}\n00[1-9][0-9]{6,14}", "blocked": "00 international\n1900 premium",
            "default_class": "local", "class_101": "international", "class_102": "", "class_103": "internal",
            "max_calls_per_hour": "12", "csrf_token": token}
    r = await c.post("/toll-policy", data=form)
    assert r.status_code == 303 and r.headers["location"] == "/routes#toll"
    api = await box.login("admin")
    policy = (await api.get("/api/v1/toll-policy")).json()
    assert policy == {"allowed_patterns": ["0[1-9][0-9]{8}", "00[1-9][0-9]{6,14}"],
                      "blocked": [{"prefix": "00", "needs": "international"}, {"prefix": "1900", "needs": "premium"}],
                      "default_class": "local", "classes": {"101": "international", "103": "internal"},
                      "max_calls_per_hour": 12}
    page = (await c.get("/routes")).text
    assert '<option value="international" selected>' in page and "1900 premium" in page
    before = await trunk_rows(box)
    for change, error_id in [({"blocked": "00"}, "blocked_invalid"), ({"blocked": "00 galactic"}, "blocked_invalid"),
                             ({"allowed_patterns": "(("}, "allowed_patterns_invalid"),
                             ({"max_calls_per_hour": "-1"}, "max_calls_per_hour_invalid"),
                             ({"class_101": "emperor"}, "classes_invalid")]:
        r = await c.post("/toll-policy", data={**form, **change})
        assert r.status_code == 422 and error_id in r.text, (change, r.status_code, r.text[-600:])
    assert await trunk_rows(box) == before


async def test_users_page_links_a_user_to_a_desk_extension_and_unlinks(box: Box) -> None:
    c, token = await admin_page(box)
    (agent_id,), = await box.rows("SELECT id FROM web_users WHERE username = 'agent'")
    (sup_id,), = await box.rows("SELECT id FROM web_users WHERE username = 'sup'")
    page = (await c.get("/users")).text
    assert 'data-user-extension="agent"' in page and '<option value="102">102 Ext 102</option>' in page
    r = await c.post(f"/users/{agent_id}/extension", data={"extension": "102", "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/users"
    assert await box.rows("SELECT user_id, extension FROM web_user_extensions") == [(agent_id, "102")]
    assert '<option value="102" selected>' in (await c.get("/users")).text
    agent, _ = await page_login(box, "agent")
    assert "102" in (await agent.get("/desk")).text  # the desk uses the link
    before = await trunk_rows(box)
    # refusals: an extension linked to someone else, one that does not exist, a user that does not exist
    r = await c.post(f"/users/{sup_id}/extension", data={"extension": "102", "csrf_token": token})
    assert r.status_code == 409 and "extension_linked" in r.text and "linked to agent" in r.text
    r = await c.post(f"/users/{sup_id}/extension", data={"extension": "999", "csrf_token": token})
    assert r.status_code == 422 and "extension_not_found" in r.text
    r = await c.post("/users/9999/extension", data={"extension": "101", "csrf_token": token})
    assert r.status_code == 404 and "user_not_found" in r.text
    sup, sup_token = await page_login(box, "sup")
    r = await sup.post(f"/users/{sup_id}/extension", data={"extension": "101", "csrf_token": sup_token})
    assert r.status_code == 403
    assert await trunk_rows(box) == before
    r = await c.post(f"/users/{agent_id}/extension", data={"extension": "", "csrf_token": token})
    assert r.status_code == 303 and await box.rows("SELECT * FROM web_user_extensions") == []
    (detail,), = await box.rows("SELECT detail FROM audit_log WHERE action = 'user.extension' ORDER BY id DESC LIMIT 1")
    assert detail == '{"extension": null}'
