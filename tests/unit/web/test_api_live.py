"""Wallboard, agent desk, extension links, staffing and /metrics through the API: success, roles, bad input."""

from __future__ import annotations

import asyncio
from typing import Any

from appliance.web_services import wallboard
from tests.unit.web.conftest import Box, state_of_the_acd, user_id


async def test_agent_logs_in_pauses_and_out_through_the_same_acd_commands(acd: Box) -> None:
    agent = await acd.login("agent")
    r = await agent.get("/api/v1/me/agent")
    assert r.json() == {"extension": "102", "state": "logged_out", "reason": "", "time_in_state_s": 0.0,
                        "queues": ["700"], "reasons": ["lunch", "break", "training", "meeting", "admin"]}
    r = await agent.post("/api/v1/me/agent", json={"action": "login"})
    assert r.status_code == 200 and r.json()["state"] == "available"
    assert acd.ctl.queues.agent_states()["102"] == "available"
    acd.clock.advance(42)
    assert (await agent.get("/api/v1/me/agent")).json()["time_in_state_s"] == 42.0
    r = await agent.post("/api/v1/me/agent", json={"action": "pause", "reason": "lunch"})
    assert r.json()["state"] == "paused" and r.json()["reason"] == "lunch"
    assert acd.ctl.queues.agent_states()["102"] == "paused:lunch"
    assert (await agent.post("/api/v1/me/agent", json={"action": "unpause"})).json()["state"] == "available"
    assert (await agent.post("/api/v1/me/agent", json={"action": "logout"})).json()["state"] == "logged_out"
    # the queue event log (what restarts and reports read) saw each change, as from a desk phone
    logged = [(e.type, e.agent_id) for e in await acd.ctl.queues.store.events()]
    assert logged == [("AgentLoggedIn", "102"), ("AgentPaused", "102"), ("AgentUnpaused", "102"),
                      ("AgentLoggedOut", "102")]


async def test_desk_refusals_are_clear_and_change_nothing(acd: Box) -> None:
    agent = await acd.login("agent")
    assert (await agent.post("/api/v1/me/agent", json={"action": "login"})).status_code == 200
    before = await state_of_the_acd(acd)
    r = await agent.post("/api/v1/me/agent", json={"action": "pause", "reason": "nap"})
    assert r.status_code == 422 and r.json()["error_id"] == "reason_unknown" and "lunch" in r.json()["details"]["known"]
    r = await agent.post("/api/v1/me/agent", json={"action": "login"})
    assert r.status_code == 409 and r.json()["error_id"] == "agent_state"
    r = await agent.post("/api/v1/me/agent", json={"action": "dance"})
    assert r.status_code == 422 and r.json()["error_id"] == "validation_failed"
    r = await agent.post("/api/v1/me/agent", json={"action": "login", "extension": "103"})
    assert r.status_code == 422  # no acting for another extension
    sup = await acd.login("sup")  # not linked to any extension
    r = await sup.post("/api/v1/me/agent", json={"action": "login"})
    assert r.status_code == 409 and r.json()["error_id"] == "no_extension"
    assert (await sup.get("/api/v1/me/agent")).json()["extension"] is None
    assert await state_of_the_acd(acd) == before


async def test_linking_a_user_to_an_extension(acd: Box) -> None:
    admin = await acd.login("admin")
    sup_id = await user_id(acd, "sup")
    before = await state_of_the_acd(acd)
    r = await admin.put(f"/api/v1/users/{sup_id}/extension", json={"extension": "102"})
    assert r.status_code == 409 and r.json()["error_id"] == "extension_linked"
    assert r.json()["details"]["linked_to"] == "agent"
    r = await admin.put(f"/api/v1/users/{sup_id}/extension", json={"extension": "999"})
    assert r.status_code == 422 and r.json()["error_id"] == "extension_not_found"
    r = await admin.put("/api/v1/users/9999/extension", json={"extension": "103"})
    assert r.status_code == 404 and r.json()["error_id"] == "user_not_found"
    sup = await acd.login("sup")
    assert (await sup.put(f"/api/v1/users/{sup_id}/extension", json={"extension": "103"})).status_code == 403
    assert await state_of_the_acd(acd) == before
    r = await admin.put(f"/api/v1/users/{sup_id}/extension", json={"extension": "103"})
    assert r.status_code == 200 and r.json() == {"user_id": sup_id, "extension": "103"}
    assert (await sup.get("/api/v1/me/agent")).json()["extension"] == "103"
    assert (await admin.put(f"/api/v1/users/{sup_id}/extension", json={"extension": None})).status_code == 200
    assert (await sup.get("/api/v1/me/agent")).json()["extension"] is None
    audited = await acd.rows("SELECT actor, action, target FROM audit_log WHERE action = 'user.extension'")
    assert audited == [("admin", "user.extension", "agent"), ("admin", "user.extension", "sup"),
                       ("admin", "user.extension", "sup")]


async def test_wallboard_shows_queues_and_agents_with_time_in_state(acd: Box) -> None:
    agent = await acd.login("agent")
    await agent.post("/api/v1/me/agent", json={"action": "login"})
    acd.clock.advance(12.5)
    sup = await acd.login("sup")
    r = await sup.get("/api/v1/wallboard")
    assert r.status_code == 200
    (q,) = r.json()["queues"]
    assert (q["number"], q["name"], q["waiting"], q["service_level"], q["asa_s"]) == (
        "700", "Support queue", 0, None, None)
    assert q["agents_by_state"] == {"available": 1, "logged_out": 1}
    agents = {a["agent"]: a for a in r.json()["agents"]}
    assert agents["102"]["state"] == "available" and agents["102"]["time_in_state_s"] == 12.5
    assert agents["103"]["state"] == "logged_out" and agents["102"]["queues"] == ["700"]
    assert (await agent.get("/api/v1/wallboard")).status_code == 403
    assert (await agent.get("/api/v1/wallboard/stream")).status_code == 403


async def test_a_caller_waiting_shows_on_the_wallboard(acd: Box) -> None:
    queues = acd.ctl.queues
    await queues.apply(queues.dispatcher.join("700", "call-1", "101"), step=True)
    acd.clock.advance(7)
    sup = await acd.login("sup")
    (q,) = (await sup.get("/api/v1/wallboard")).json()["queues"]
    assert q["waiting"] == 1 and q["longest_wait_s"] == 7.0 and q["entered"] == 1
    await queues.apply(queues.dispatcher.abandon("call-1"), step=True)
    (q,) = (await sup.get("/api/v1/wallboard")).json()["queues"]
    assert q["waiting"] == 0 and q["abandoned"] == 1 and q["abandon_rate"] == 1.0


async def test_the_stream_pushes_a_change_without_waiting_for_the_tick(acd: Box) -> None:
    queues = acd.ctl.queues
    snaps = wallboard.stream(lambda: wallboard.wallboard(queues), queues.changes, tick_s=3600)
    first = await anext(snaps)
    assert [a.state for a in first.agents] == ["logged_out", "logged_out"]
    # the stream is parked on the ACD's change counter (there is no poll, and the tick is an hour away)
    pending = asyncio.ensure_future(anext(snaps))
    await asyncio.sleep(0)
    assert not pending.done()
    agent = await acd.login("agent")
    await agent.post("/api/v1/me/agent", json={"action": "login"})
    second = await asyncio.wait_for(pending, 10)  # only the change can have woken it
    assert {a.agent: a.state for a in second.agents} == {"102": "available", "103": "logged_out"}
    # a caller joining wakes it the same way
    pending = asyncio.ensure_future(anext(snaps))
    await queues.apply(queues.dispatcher.join("700", "call-1", "101"), step=True)
    third = await asyncio.wait_for(pending, 10)
    assert third.queues[0].entered == 1
    await snaps.aclose()


async def test_the_stream_ticks_for_the_clocks_when_nothing_changes(acd: Box) -> None:
    queues = acd.ctl.queues
    snaps = wallboard.stream(lambda: wallboard.wallboard(queues), queues.changes, tick_s=0.01)
    first = await anext(snaps)
    count = queues.changes.count
    second = await asyncio.wait_for(anext(snaps), 10)
    assert queues.changes.count == count  # no ACD event: the tick sent it
    assert second.events_key() == first.events_key()
    await snaps.aclose()


async def test_staffing_calculator(box: Box) -> None:
    sup = await box.login("sup")
    r = await sup.get("/api/v1/staffing", params={"calls_per_hour": 200, "aht_s": 180, "target_sl": 0.8,
                                                  "threshold_s": 20})
    assert r.status_code == 200, r.text
    plan = r.json()
    # the worked example of docs/acd.md: 13 agents give 79.6 %, so 14 (88.8 %, ASA 7.8 s, occupancy 71 %)
    assert plan["agents"] == 14 and plan["traffic_erlangs"] == 10.0
    assert round(plan["service_level"], 3) == 0.888 and round(plan["asa_s"], 1) == 7.8
    assert plan["occupancy"] == round(10 / 14, 4)
    bads: list[dict[str, Any]] = [{"calls_per_hour": 200, "aht_s": 0}, {"calls_per_hour": -1, "aht_s": 180},
                {"calls_per_hour": 200, "aht_s": 180, "target_sl": 1}, {"calls_per_hour": "many", "aht_s": 180},
                {"aht_s": 180}]
    for bad in bads:
        r = await sup.get("/api/v1/staffing", params=bad)
        assert r.status_code == 422 and r.json()["error_id"] == "validation_failed", bad
    r = await sup.get("/api/v1/staffing", params={"calls_per_hour": 100_000, "aht_s": 3600})
    assert r.status_code == 422 and r.json()["error_id"] == "staffing_invalid"
    agent = await box.login("agent")
    assert (await agent.get("/api/v1/staffing", params={"calls_per_hour": 1, "aht_s": 1})).status_code == 403


async def test_metrics_for_loopback_and_supervisor_tokens_only(acd: Box) -> None:
    agent = await acd.login("agent")
    await agent.post("/api/v1/me/agent", json={"action": "login"})
    r = await acd.client("127.0.0.1").get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = r.text.splitlines()
    assert "appliance_calls_active 0" in lines
    assert 'appliance_queue_waiting{queue="700"} 0' in lines
    assert 'appliance_queue_service_level_ratio{queue="700"} NaN' in lines
    assert 'appliance_agents{state="available"} 1' in lines and 'appliance_agents{state="logged_out"} 1' in lines
    assert "# TYPE appliance_queue_answered_total counter" in lines
    assert not any(line.startswith("appliance_sync_backlog") for line in lines)  # cloud is off
    assert "appliance_modem_up 0" in lines  # the SMS channel's and modem's families (no bridge report yet)
    assert 'appliance_sms_conversations{state="waiting"} 0' in lines
    lan = acd.client("192.0.2.50")
    r = await lan.get("/metrics")
    assert r.status_code == 401 and r.json()["error_id"] == "not_logged_in"
    agent_token = (await agent.post("/api/v1/me/token")).json()["token"]
    r = await lan.get("/metrics", headers={"authorization": f"Bearer {agent_token}"})
    assert r.status_code == 403 and r.json()["error_id"] == "role_forbidden"
    sup_token = (await (await acd.login("sup")).post("/api/v1/me/token")).json()["token"]
    r = await lan.get("/metrics", headers={"authorization": f"Bearer {sup_token}"})
    assert r.status_code == 200 and 'appliance_queue_waiting{queue="700"} 0' in r.text.splitlines()


async def test_metrics_show_the_sync_backlog_when_the_cloud_is_on(acd: Box) -> None:
    acd.ctl.settings.extra["cloud"] = {"host": "127.0.0.1", "port": 1883, "node": "box-1"}
    await acd.ctl.db.execute(
        "INSERT INTO sync_outbox(stream, type, id, seq, session, ts, data)"
        " VALUES ('cdr', 'cdr', 'x1', 1, 's', 0, '{}')")
    await acd.ctl.db.commit()
    r = await acd.client("127.0.0.1").get("/metrics")
    assert "appliance_sync_backlog 1" in r.text.splitlines()


async def test_live_calls_waiting_ringing_then_talking(acd: Box) -> None:
    queues = acd.ctl.queues
    sup = await acd.login("sup")
    assert (await sup.get("/api/v1/wallboard")).json()["calls"] == []
    await queues.apply(queues.dispatcher.join("700", "call-1", "0501234567"), step=True)
    acd.clock.advance(4)
    (c,) = (await sup.get("/api/v1/wallboard")).json()["calls"]
    assert c == {"call_id": "call-1", "caller": "0501234567", "queue": "700", "state": "waiting", "agent": None,
                 "seconds": 4.0, "supervision": None}
    agent = await acd.login("agent")
    await agent.post("/api/v1/me/agent", json={"action": "login"})
    await queues.apply(queues.dispatcher.step())
    (c,) = (await sup.get("/api/v1/wallboard")).json()["calls"]
    assert (c["state"], c["agent"]) == ("ringing", "102")
    await queues.apply(queues.dispatcher.answered("call-1", "102"))
    acd.clock.advance(9)
    (c,) = (await sup.get("/api/v1/wallboard")).json()["calls"]
    assert (c["state"], c["agent"], c["seconds"], c["queue"]) == ("talking", "102", 9.0, "700")
    await queues.apply(queues.dispatcher.hangup("call-1"))
    assert (await sup.get("/api/v1/wallboard")).json()["calls"] == []
