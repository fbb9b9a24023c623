"""Queues through /api/v1: admins create (live at once, audited), supervisors read, refusals write nothing."""

from __future__ import annotations

from appliance.domain.dialplan import MediaService, ToMedia, route
from tests.unit.web.conftest import Box

NEW = {"number": "710", "name": "Billing", "members": ["103", "102"], "strategy": "linear", "wrap_up_s": 10,
       "max_wait_s": 60, "on_timeout": "queue:700", "position_every_s": 30, "survey": True}


async def test_admin_creates_a_queue_that_routes_at_once(acd: Box) -> None:
    admin = await acd.login("admin")
    r = await admin.post("/api/v1/queues", json=NEW)
    assert r.status_code == 201, r.text
    assert r.json()["members"] == ["103", "102"] and r.json()["strategy"] == "linear"
    assert route("710", "101", acd.ctl.sessions.directory) == ToMedia(MediaService.QUEUE, "710")
    assert acd.ctl.queues.dispatcher.queue("710").config.wrap_up_s == 10
    sup = await acd.login("sup")
    listed = {q["number"]: q for q in (await sup.get("/api/v1/queues")).json()}
    assert set(listed) == {"700", "710"} and listed["710"]["survey"] is True
    (action,), = await acd.rows("SELECT action FROM audit_log WHERE target = '710'")
    assert action == "queue.create"


async def test_refusals_change_nothing(acd: Box) -> None:
    admin = await acd.login("admin")
    before = await acd.snapshot()
    queues_before = await acd.rows("SELECT * FROM queues")
    for body, status, error in (
        ({**NEW, "number": "101"}, 409, "number_taken"),  # an extension
        ({**NEW, "number": "600"}, 409, "number_taken"),  # a ring group
        ({**NEW, "number": "700", "on_timeout": "hangup"}, 409, "number_taken"),  # a queue
        ({**NEW, "members": ["102", "999"]}, 422, "unknown_member"),
        ({**NEW, "members": ["102", "102"]}, 422, "duplicate_member"),
        ({**NEW, "members": []}, 422, "members_invalid"),
        ({**NEW, "on_timeout": "queue:710"}, 422, "queue_invalid"),  # overflow back to itself
        ({**NEW, "on_timeout": "fax:1"}, 422, "queue_invalid"),
        ({**NEW, "strategy": "loudest"}, 422, None),
        ({**NEW, "wrap_up_s": -1}, 422, None),
        ({**NEW, "colour": "red"}, 422, None),
    ):
        r = await admin.post("/api/v1/queues", json=body)
        assert r.status_code == status, (body, r.text)
        if error:
            assert r.json()["error_id"] == error, r.text
    assert await acd.rows("SELECT * FROM queues") == queues_before
    assert await acd.snapshot() == before
    assert "710" not in acd.ctl.queues.rows


async def test_only_admins_create_queues(acd: Box) -> None:
    for who in ("sup", "agent"):
        c = await acd.login(who)
        assert (await c.post("/api/v1/queues", json=NEW)).status_code == 403
    agent = await acd.login("agent")
    assert (await agent.get("/api/v1/queues")).status_code == 403
    assert "710" not in acd.ctl.queues.rows
