"""Queues through /api/v1: admins create, replace and delete (live at once, audited), supervisors read,
agents' skills; refusals write nothing."""

from __future__ import annotations

from typing import Any

from appliance.app import build_controller
from appliance.config import Settings
from appliance.domain.clock import ManualClock
from appliance.domain.dialplan import MediaService, ToMedia, route
from tests.unit.web.conftest import Box

NEW = {"number": "710", "name": "Billing", "members": ["103", "102"], "strategy": "linear", "wrap_up_s": 10,
       "max_wait_s": 60, "on_timeout": "queue:700", "position_every_s": 30, "survey": True}
EDIT = {"name": "Billing (Hebrew)", "strategy": "leastrecent", "wrap_up_s": 3,
        "members": [{"extension": "102", "penalty": 0, "skills": {"he": 9}},
                    {"extension": "103", "penalty": 2}, "101"],
        "skills": ["he"], "tiers": [{"after_s": 0, "min_level": 8}, {"after_s": 5, "min_level": 3}]}


async def queue_tables(box: Box) -> dict[str, Any]:
    """What a refused queue change must leave as it was."""
    return {
        "queues": await box.rows("SELECT * FROM queues ORDER BY number"),
        "members": await box.rows("SELECT * FROM queue_members ORDER BY queue, position"),
        "skills": await box.rows("SELECT * FROM agent_skills ORDER BY 1, 2"),
        "audit": await box.rows("SELECT COUNT(*) FROM audit_log"),
        "rows": dict(box.ctl.queues.rows),
        "routes": {n: route(n, "101", box.ctl.sessions.directory) for n in ("700", "710")},
    }


async def test_admin_creates_a_queue_that_routes_at_once(acd: Box) -> None:
    admin = await acd.login("admin")
    r = await admin.post("/api/v1/queues", json=NEW)
    assert r.status_code == 201, r.text
    assert [m["extension"] for m in r.json()["members"]] == ["103", "102"] and r.json()["strategy"] == "linear"
    assert r.json()["tiers"] == [{"after_s": 0, "min_level": 1}] and r.json()["skills"] == []
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
        ({**NEW, "tiers": [{"after_s": 0, "min_level": 3}, {"after_s": 5, "min_level": 8}]}, 422, "queue_invalid"),
        ({**NEW, "tiers": [{"after_s": 4, "min_level": 3}]}, 422, "queue_invalid"),  # must start at 0
        ({**NEW, "strategy": "loudest"}, 422, None),
        ({**NEW, "wrap_up_s": -1}, 422, None),
        ({**NEW, "colour": "red"}, 422, None),
        ({**NEW, "members": [{"extension": "102", "skills": {"he": 11}}]}, 422, None),
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


async def test_put_replaces_a_queue_live_and_waiting_callers_keep_their_places(acd: Box) -> None:
    admin = await acd.login("admin")
    assert (await admin.post("/api/v1/queues", json=NEW)).status_code == 201
    service = acd.ctl.queues
    for call_id in ("c1", "c2", "c3"):  # nobody logged in: they wait
        await service.apply(service.dispatcher.join("710", call_id, "0501"), step=True)
    r = await admin.put("/api/v1/queues/710", json=EDIT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["members"] == [{"extension": "102", "penalty": 0, "skills": {"he": 9}},
                               {"extension": "103", "penalty": 2, "skills": {}},
                               {"extension": "101", "penalty": 0, "skills": {}}]
    queue = service.dispatcher.queue("710")
    assert [c.call_id for c in queue.waiting] == ["c1", "c2", "c3"]
    assert all(c.skills == {"he"} for c in queue.waiting)  # they joined with the old default (none)
    assert queue.config.wrap_up_s == 3 and queue.config.min_level(0) == 8 and queue.config.min_level(6) == 3
    assert queue.members["102"].skills == {"he": 9} and queue.members["103"].penalty == 2
    assert route("710", "101", acd.ctl.sessions.directory) == ToMedia(MediaService.QUEUE, "710")
    sup = await acd.login("sup")
    got = (await sup.get("/api/v1/queues/710")).json()
    assert got == body and got["name"] == "Billing (Hebrew)" and got["number"] == "710"
    # the GET body goes back as it is (the recording page flips one flag this way)
    again = {k: v for k, v in got.items() if k != "number"} | {"record": False}
    r = await admin.put("/api/v1/queues/710", json=again)
    assert r.status_code == 200 and r.json() == got | {"record": False}, r.text
    assert [a for (a,) in await acd.rows("SELECT action FROM audit_log WHERE target = '710' ORDER BY id")] == [
        "queue.create", "queue.update", "queue.update"]
    # plain strings still work for members
    r = await admin.put("/api/v1/queues/710", json={"name": "Plain", "members": ["103"]})
    assert r.status_code == 200 and r.json()["members"] == [{"extension": "103", "penalty": 0, "skills": {}}]
    assert [c.call_id for c in service.dispatcher.queue("710").waiting] == ["c1", "c2", "c3"]


async def test_put_refusals_change_nothing(acd: Box) -> None:
    admin = await acd.login("admin")
    assert (await admin.post("/api/v1/queues", json=NEW)).status_code == 201
    before = await queue_tables(acd)
    config = acd.ctl.queues.dispatcher.queue("710").config
    for number, body, status, error in (
        ("799", EDIT, 404, "queue_not_found"),
        ("710", {**EDIT, "members": ["102", "999"]}, 422, "unknown_member"),
        ("710", {**EDIT, "tiers": [{"after_s": 0, "min_level": 3}, {"after_s": 5, "min_level": 3}]}, 422,
         "queue_invalid"),
        ("710", {**EDIT, "on_empty": "queue:710"}, 422, "queue_invalid"),
        ("710", {**EDIT, "members": [{"extension": "102", "skills": {"he": 0}}]}, 422, None),
        ("710", {**EDIT, "members": [{"extension": "102", "skills": {"bad name": 3}}]}, 422, None),
        ("710", {**EDIT, "number": "711"}, 422, None),
    ):
        r = await admin.put(f"/api/v1/queues/{number}", json=body)
        assert r.status_code == status, (body, r.text)
        if error:
            assert r.json()["error_id"] == error, r.text
    assert await queue_tables(acd) == before
    assert acd.ctl.queues.dispatcher.queue("710").config == config


async def test_delete_an_idle_queue_removes_its_number_and_a_busy_one_is_refused(acd: Box) -> None:
    admin = await acd.login("admin")
    assert (await admin.post("/api/v1/queues", json={**NEW, "on_timeout": "hangup"})).status_code == 201
    service = acd.ctl.queues
    await service.apply(service.dispatcher.join("710", "c1", "0501"), step=True)
    before = await queue_tables(acd)
    r = await admin.delete("/api/v1/queues/710")
    assert r.status_code == 409 and r.json()["error_id"] == "queue_busy", r.text
    assert "wait" in r.json()["message"]
    assert await queue_tables(acd) == before
    assert [c.call_id for c in service.dispatcher.queue("710").waiting] == ["c1"]
    await service.apply(service.dispatcher.abandon("c1"), step=True)
    r = await admin.delete("/api/v1/queues/710")
    assert r.status_code == 204, r.text
    assert "710" not in service.rows and "710" not in service.dispatcher.queues
    assert route("710", "101", acd.ctl.sessions.directory) != ToMedia(MediaService.QUEUE, "710")
    assert await acd.rows("SELECT * FROM queues WHERE number = '710'") == []
    assert await acd.rows("SELECT * FROM queue_members WHERE queue = '710'") == []
    (action,), = await acd.rows("SELECT action FROM audit_log WHERE target = '710' ORDER BY id DESC LIMIT 1")
    assert action == "queue.delete"
    assert (await admin.delete("/api/v1/queues/710")).status_code == 404


async def test_a_queue_another_queue_overflows_into_cannot_be_deleted(acd: Box) -> None:
    admin = await acd.login("admin")
    assert (await admin.post("/api/v1/queues", json=NEW)).status_code == 201  # 710 times out to queue:700
    before = await queue_tables(acd)
    r = await admin.delete("/api/v1/queues/700")
    assert r.status_code == 409 and r.json()["error_id"] == "queue_in_use", r.text
    assert r.json()["details"]["used_by"] == ["queue 710"]
    assert await queue_tables(acd) == before
    assert "700" in acd.ctl.queues.dispatcher.queues
    assert route("700", "101", acd.ctl.sessions.directory) == ToMedia(MediaService.QUEUE, "700")
    await acd.ctl.db.execute("INSERT INTO ivrs(number, name, config, updated_at) VALUES ('800', 'Main', ?, '')",
                             ('{"menus": {"main": {"options": {"1": "queue:710;priority=2"}}}}',))
    await acd.ctl.db.execute("INSERT INTO dids(did, destination) VALUES ('5550710', 'queue:710')")
    await acd.ctl.db.commit()
    r = await admin.delete("/api/v1/queues/710")
    assert r.status_code == 409 and r.json()["details"]["used_by"] == ["DID 5550710", "IVR 800"], r.text
    assert "710" in acd.ctl.queues.rows


async def test_only_admins_edit_and_delete_queues(acd: Box) -> None:
    clients = {who: await acd.login(who) for who in ("sup", "agent")}  # logins are audited: before the snapshot
    before = await queue_tables(acd)
    for c in clients.values():
        assert (await c.put("/api/v1/queues/700", json=EDIT)).status_code == 403
        assert (await c.delete("/api/v1/queues/700")).status_code == 403
        assert (await c.put("/api/v1/agents/102/skills", json={"skills": {"he": 5}})).status_code == 403
    assert (await clients["agent"].get("/api/v1/queues/700")).status_code == 403
    assert (await clients["agent"].get("/api/v1/agents/102/skills")).status_code == 403
    assert await queue_tables(acd) == before


async def test_agent_skills_are_stored_audited_and_route_at_once(acd: Box) -> None:
    admin = await acd.login("admin")
    assert (await admin.post("/api/v1/queues", json=NEW | {"members": [
        {"extension": "102", "skills": {"he": 2}}, "103"]})).status_code == 201
    r = await admin.put("/api/v1/agents/102/skills", json={"skills": {"he": 9, "billing": 7}})
    assert r.status_code == 200 and r.json() == {"skills": {"billing": 7, "he": 9}}, r.text
    sup = await acd.login("sup")
    assert (await sup.get("/api/v1/agents/102/skills")).json() == {"skills": {"billing": 7, "he": 9}}
    d = acd.ctl.queues.dispatcher
    assert d.queue("700").members["102"].skills == {"he": 9, "billing": 7}  # the agent's own, in every queue
    assert d.queue("710").members["102"].skills == {"he": 2, "billing": 7}  # the queue's override wins
    assert await acd.rows("SELECT extension, skill, level FROM agent_skills ORDER BY skill") == [
        ("102", "billing", 7), ("102", "he", 9)]
    (action,), = await acd.rows("SELECT action FROM audit_log WHERE target = '102' AND action LIKE 'agent.%'")
    assert action == "agent.skills"
    # a restarted controller routes by the stored skills
    again = await build_controller(Settings(data_dir=acd.ctl.settings.data_dir, demo=False), ManualClock())
    try:
        assert again.queues.dispatcher.queue("700").members["102"].skills == {"he": 9, "billing": 7}
        assert again.queues.dispatcher.queue("710").members["102"].skills == {"he": 2, "billing": 7}
        assert again.queues.rows["710"].member_skills == {"102": {"he": 2}}
    finally:
        await again.queues.stop()
        await again.db.close()
    r = await admin.put("/api/v1/agents/102/skills", json={"skills": {}})
    assert r.status_code == 200 and d.queue("700").members["102"].skills == {}


async def test_agent_skill_refusals_change_nothing(acd: Box) -> None:
    admin = await acd.login("admin")
    assert (await admin.put("/api/v1/agents/102/skills", json={"skills": {"he": 4}})).status_code == 200
    before = await queue_tables(acd)
    for ext, body, status in (
        ("102", {"skills": {"he": 11}}, 422),
        ("102", {"skills": {"he": 0}}, 422),
        ("102", {"skills": {"he": 4.5}}, 422),
        ("102", {"skills": {"h e": 4}}, 422),
        ("102", {"skills": {"x" * 33: 4}}, 422),
        ("102", {"levels": {"he": 4}}, 422),
        ("999", {"skills": {"he": 4}}, 404),
    ):
        r = await admin.put(f"/api/v1/agents/{ext}/skills", json=body)
        assert r.status_code == status, (body, r.text)
        assert "detail" in r.json() or "error_id" in r.json()
    assert (await admin.get("/api/v1/agents/999/skills")).status_code == 404
    assert await queue_tables(acd) == before
    assert acd.ctl.queues.dispatcher.queue("700").members["102"].skills == {"he": 4}
