"""Property run over the OpenAPI document: whatever is sent, no 5xx, and every refusal says why."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.web_services.audit import Actor
from tests.unit.web.conftest import Box
from tests.unit.web.openapi_strategies import calls, operations

EXAMPLES = 400


async def token_for(box: Box, username: str, role: str) -> str:
    """A bearer token of an enabled user in `role`, restored first if the run changed or deleted them."""
    users = box.app.state.services.users
    actor = Actor("property-run")
    found = [u for u in await users.list() if u.username == username]
    if not found:
        found = [await users.create(actor, username, "property password", role)]
    elif found[0].role.value != role or not found[0].enabled:
        found = [await users.update(actor, found[0].id, role=role, enabled=True)]
    token: str = await users.issue_token(actor, found[0].id)
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
    # the admin is restored before the agent, so the agent is never the last admin being demoted
    admin = await token_for(box, "prop-admin", "admin")
    agent = await token_for(box, "prop-agent", "agent")
    if who != "anonymous":
        c.headers["authorization"] = f"Bearer {admin if who == 'admin' else agent}"
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
