"""Property run over the OpenAPI document: whatever is sent, no 5xx, and every refusal says why."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.web_services.audit import Actor
from appliance.web_services.cli_admin import admin_create
from tests.unit.web.conftest import Box
from tests.unit.web.openapi_strategies import calls, operations

EXAMPLES = 400


async def admin_token(box: Box) -> str:
    """A bearer token of an enabled admin (restored if the run demoted, disabled or deleted them)."""
    users = box.app.state.services.users
    found = [u for u in await users.list() if u.username == "prop-admin"]
    if not found or found[0].role.value != "admin" or not found[0].enabled:
        admin_create(box.ctl.settings.data_dir, "prop-admin", "prop admin password")
        found = [u for u in await users.list() if u.username == "prop-admin"]
    token: str = await users.issue_token(Actor("test"), found[0].id)
    return token


async def test_the_schema_is_served_and_covers_the_api(box: Box) -> None:
    c = await box.login("agent")
    doc = (await c.get("/api/v1/openapi.json")).json()
    ops = {(m, p) for m, p, _ in operations(doc)}
    assert ("POST", "/api/v1/extensions") in ops and ("GET", "/api/v1/cdrs") in ops
    assert len(ops) >= 28
    assert all(p.startswith("/api/v1/") for _, p in ops)  # pages stay out of the API document


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_no_5xx_whatever_is_sent(box: Box, data: st.DataObject) -> None:
    doc = box.app.openapi()
    call = data.draw(calls(doc))
    who = data.draw(st.sampled_from(["admin", "admin", "admin", "anonymous", "agent"]))
    c = box.client("192.0.2.200")
    if who == "admin":
        c.headers["authorization"] = f"Bearer {await admin_token(box)}"
    elif who == "agent":
        c.headers["authorization"] = f"Bearer {await box.app.state.services.users.issue_token(Actor('t'), 3)}"
    kwargs: dict[str, Any] = {"params": call.params}
    if call.send_body:
        kwargs["json"] = call.body
    r = await c.request(call.method, call.path, **kwargs)
    box.clients.remove(c)
    await c.aclose()
    assert r.status_code < 500, (call, r.status_code, r.text[:500])
    if r.status_code >= 400:
        body = r.json()
        assert body["error_id"] and body["message"], (call, body)
