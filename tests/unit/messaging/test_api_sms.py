"""SMS API through the web app on a real controller: success, role denial, bad input (nothing written)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.web.conftest import ADMIN_PASSWORD, PASSWORDS, QUEUE, _make_box, user_id
from tests.unit.web.conftest import Box as WebBox
from web.local.routers import api_sms

CUSTOMER = "+972501234567"
HEBREW = "שלום, ההזמנה שלך מוכנה לאיסוף. " * 5


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[WebBox]:
    box = await _make_box(tmp_path)
    if not any(getattr(r, "path", "").startswith("/api/v1/sms") for r in box.app.routes):
        box.app.include_router(api_sms.router)  # until web/local/app.py lists it
    try:
        c = box.client()
        r = await c.post("/api/v1/setup", json={"username": "admin", "password": ADMIN_PASSWORD})
        c.headers["x-csrf-token"] = r.json()["csrf_token"]
        for name, role in (("sup", "supervisor"), ("agent", "agent"), ("agent2", "agent")):
            pw = PASSWORDS.get(name, "agent two password 1")
            r = await c.post("/api/v1/users", json={"username": name, "password": pw, "role": role})
            assert r.status_code == 201
        for n in ("101", "102", "103"):
            r = await c.post("/api/v1/extensions", json={"number": n, "display_name": f"Ext {n}"})
            assert r.status_code == 201
        await box.ctl.queues.store.create_queue(QUEUE)
        box.ctl.queues.configure(await box.ctl.queues.store.load())
        for name, ext in (("agent", "102"), ("agent2", "103")):
            r = await c.put(f"/api/v1/users/{await user_id(box, name)}/extension", json={"extension": ext})
            assert r.status_code == 200, r.text
        yield box
    finally:
        for cl in box.clients:
            await cl.aclose()
        await box.ctl.queues.stop()
        if box.ctl.sms is not None:
            box.ctl.sms.close()
        await box.ctl.db.close()


async def _messages(box: WebBox) -> list[tuple[Any, ...]]:
    return await box.rows("SELECT * FROM sms_messages ORDER BY id")


async def test_agent_lists_reads_replies_and_closes(web: WebBox) -> None:
    assert web.ctl.sms is not None
    agent = await web.login("agent")
    assert (await agent.post("/api/v1/me/agent", json={"action": "login"})).status_code == 200
    got = await web.ctl.sms.service.inbound("link-api-0001", CUSTOMER, "שלום, יש לי שאלה")
    r = await agent.get("/api/v1/sms/conversations")
    assert r.status_code == 200
    (conv,) = r.json()
    assert (conv["id"], conv["number"], conv["agent"]) == (got["conversation_id"], CUSTOMER, "102")
    assert conv["unanswered"] == 1
    r = await agent.get(f"/api/v1/sms/conversations/{conv['id']}")
    assert [m["body"] for m in r.json()["messages"]] == ["שלום, יש לי שאלה"]
    r = await agent.post(f"/api/v1/sms/conversations/{conv['id']}/reply", json={"text": HEBREW})
    assert r.status_code == 201 and r.json()["parts"] == 3 and r.json()["status"] == "queued"
    r = await agent.get(f"/api/v1/sms/conversations/{conv['id']}")
    assert r.json()["messages"][-1]["body"] == HEBREW and r.json()["conversation"]["unanswered"] == 0
    r = await agent.get("/api/v1/sms/history", params={"number": "+972-50-123-4567"})
    assert [m["direction"] for m in r.json()] == ["out", "in"]
    r = await agent.post(f"/api/v1/sms/conversations/{conv['id']}/close")
    assert r.status_code == 200 and r.json()["conversation"]["state"] == "closed"
    assert (await agent.get("/api/v1/sms/conversations")).json() == []


async def test_refusals_are_clear_and_write_nothing(web: WebBox) -> None:
    assert web.ctl.sms is not None
    agent, sup = await web.login("agent"), await web.login("sup")
    other = await web.login("agent2", "agent two password 1")
    await agent.post("/api/v1/me/agent", json={"action": "login"})
    conv = (await web.ctl.sms.service.inbound("link-api-0002", CUSTOMER, "hi"))["conversation_id"]
    before = await _messages(web)
    r = await other.post(f"/api/v1/sms/conversations/{conv}/reply", json={"text": "mine now"})
    assert r.status_code == 403 and r.json()["error_id"] == "not_your_conversation"
    assert (await other.get(f"/api/v1/sms/conversations/{conv}")).status_code == 403
    r = await other.get("/api/v1/sms/conversations", params={"scope": "all"})
    assert r.status_code == 403 and r.json()["error_id"] == "role_forbidden"
    assert len((await sup.get("/api/v1/sms/conversations", params={"scope": "all"})).json()) == 1
    r = await sup.get("/api/v1/sms/conversations")
    assert r.status_code == 409 and r.json()["error_id"] == "no_extension"
    for body in ({"text": ""}, {"text": "   "}, {}, {"text": "x" * 4001}):
        r = await agent.post(f"/api/v1/sms/conversations/{conv}/reply", json=body)
        assert r.status_code == 422, body
    r = await agent.post("/api/v1/sms/conversations/9999/reply", json={"text": "hi"})
    assert r.status_code == 404 and r.json()["error_id"] == "conversation_not_found"
    assert (await agent.get("/api/v1/sms/blocklist")).status_code == 403
    assert (await sup.post("/api/v1/sms/blocklist", json={"number": CUSTOMER})).status_code == 403
    assert (await sup.put("/api/v1/sms/settings", json={"queue": "700"})).status_code == 403
    assert await _messages(web) == before
    # STOP: the reply is refused with the reason, nothing is written
    await web.ctl.sms.service.inbound("link-api-0003", CUSTOMER, "STOP")
    before = await _messages(web)
    r = await agent.post(f"/api/v1/sms/conversations/{conv}/reply", json={"text": "one more offer"})
    assert r.status_code == 409 and r.json()["error_id"] == "recipient_opted_out"
    assert r.json()["details"]["number"] == CUSTOMER and "opted out" in r.json()["message"]
    assert await _messages(web) == before
    assert [b["number"] for b in (await sup.get("/api/v1/sms/blocklist")).json()] == [CUSTOMER]


async def test_admin_block_list_and_sms_queue(web: WebBox) -> None:
    admin = await web.login("admin")
    r = await admin.post("/api/v1/sms/blocklist", json={"number": "+1 555 0100"})
    assert r.status_code == 201 and r.json()["number"] == "+15550100" and r.json()["keyword"] == "admin:admin"
    r = await admin.post("/api/v1/sms/blocklist", json={"number": "+15550100"})
    assert r.status_code == 409 and r.json()["error_id"] == "number_blocked"
    r = await admin.post("/api/v1/sms/blocklist", json={"number": "call me"})
    assert r.status_code == 422 and r.json()["error_id"] == "number_invalid"
    assert (await admin.delete("/api/v1/sms/blocklist/+15550100")).status_code == 204
    assert (await admin.delete("/api/v1/sms/blocklist/+15550100")).status_code == 404
    assert (await admin.get("/api/v1/sms/settings")).json() == {"queue": None, "effective_queue": "700"}
    r = await admin.put("/api/v1/sms/settings", json={"queue": "999"})
    assert r.status_code == 422 and r.json()["error_id"] == "queue_unknown"
    assert (await admin.put("/api/v1/sms/settings", json={"queue": "700"})).json()["queue"] == "700"
