"""Every route is guarded: anonymous callers are refused, agents only reach what agents may."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from tests.unit.web.conftest import Box
from web.local.app import ROUTERS

# Routes open before login (first-run setup, login itself, language choice, health).
PUBLIC = {("GET", "/healthz"), ("POST", "/api/v1/setup"), ("POST", "/api/v1/session"), ("GET", "/"),
          ("GET", "/setup"), ("POST", "/setup"), ("GET", "/login"), ("POST", "/login"), ("GET", "/lang"),
          ("GET", "/api/v1/openapi.json")}
# What an agent may reach; every other route must answer 403 to an agent.
AGENT = {("GET", "/api/v1/me"), ("POST", "/api/v1/me/token"), ("DELETE", "/api/v1/session"),
         ("GET", "/api/v1/status"), ("GET", "/status"), ("POST", "/logout"),
         ("GET", "/api/v1/me/agent"), ("POST", "/api/v1/me/agent"), ("GET", "/desk"), ("POST", "/desk"),
         ("GET", "/api/v1/me/call"), ("POST", "/api/v1/me/dispositions"), ("POST", "/desk/disposition"),
         ("POST", "/api/v1/me/click-to-call"), ("POST", "/desk/call"), ("GET", "/api/v1/me/voicemail"),
         ("GET", "/api/v1/me/voicemails/{recording_id}/audio"),
         # SMS agents answer conversations (api_sms.py, the SMS engineer's routes)
         ("GET", "/api/v1/sms/conversations"), ("GET", "/api/v1/sms/conversations/{conv_id}"),
         ("POST", "/api/v1/sms/conversations/{conv_id}/reply"), ("POST", "/api/v1/sms/conversations/{conv_id}/close"),
         ("GET", "/api/v1/sms/history")}
# Not pages: a scraper or script calls these, so a refusal is a 401/403 JSON body, never a redirect.
MACHINE = {("GET", "/metrics")}
SAMPLE = {"number": "101", "user_id": "1", "recording_id": "1"}


def routes(box: Box) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, from the routers it includes."""
    found = [(m, r.path) for module in ROUTERS for r in module.router.routes if isinstance(r, APIRoute)
             for m in sorted(r.methods or ())]
    # and the schema knows no route the routers do not
    schema = box.app.openapi()["paths"]
    assert {(m.upper(), p) for p, ops in schema.items() for m in ops} <= set(found)
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "1"), path)


async def test_anonymous_callers_are_refused_everywhere_but_the_door(box: Box) -> None:
    all_routes = routes(box)
    assert len(all_routes) > 40
    c = box.client("192.0.2.77")
    before = await box.snapshot()
    for method, path in all_routes:
        if (method, path) in PUBLIC:
            continue
        r = await c.request(method, concrete(path))
        if path.startswith("/api/") or (method, path) in MACHINE:
            assert r.status_code == 401 and r.json()["error_id"] == "not_logged_in", (method, path)
        else:
            assert r.status_code == 303 and r.headers["location"] == "/login", (method, path)
    assert await box.snapshot() == before


async def test_agents_reach_only_the_agent_routes(box: Box) -> None:
    agent = await box.login("agent")
    before = await box.snapshot()
    checked = 0
    for method, path in routes(box):
        if (method, path) in PUBLIC or (method, path) in AGENT:
            continue
        r = await agent.request(method, concrete(path))
        assert r.status_code == 403, (method, path, r.status_code)
        checked += 1
    assert checked > 30
    assert await box.snapshot() == before
