"""Recordings search: date range, number, queue, agent, duration and disposition, API and page."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from appliance.acd.events import AgentAnswered, CallerJoined
from appliance.storage.calls import CallStore, RecordingRow
from appliance.storage.queues import QueueStore
from tests.unit.web.conftest import Box

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


async def seed(box: Box) -> None:
    store = CallStore(box.ctl.db)
    log = QueueStore(box.ctl.db)
    # (call, caller, queue, agent, day offset, seconds, disposition)
    calls = [("q1", "0501", "700", "102", 0, 30.0, "sale"), ("q2", "0502", "701", "103", 1, 240.0, "resolved"),
             ("d1", "101", "", "102", 2, 5.0, "")]
    for call_id, caller, queue, agent, day, secs, code in calls:
        at = T0 + timedelta(days=day)
        await store.cdr_open(call_id, "queue" if queue else "extension", caller, queue or agent, at)
        await store.cdr_answered(call_id, at, agent)
        await store.cdr_close(call_id, at + timedelta(seconds=secs), 200, "normal")
        if queue:
            await log.append([CallerJoined(queue_id=queue, call_id=call_id, at=0, number=caller, priority=0,
                                           position=1),
                              AgentAnswered(agent_id=agent, at=1, old="available", new="on_call", call_id=call_id,
                                            queue_id=queue)], at, 1)
        await store.index_recording(RecordingRow(call_id, f"recordings/{call_id}.wav", [caller, agent], at, secs,
                                                 100, "ab" * 32, 2))
        if code:
            conn = sqlite3.connect(box.ctl.settings.db_path)
            conn.execute("INSERT INTO desk_dispositions(call_id, number, agent, extension, code, created_at)"
                         " VALUES (?, ?, 'agent', ?, ?, '2026-03-10T09:00:00Z')", (call_id, caller, agent, code))
            conn.commit()
            conn.close()


async def test_every_filter(box: Box) -> None:
    await seed(box)
    sup = await box.login("sup")

    async def ids(**params: object) -> list[str]:
        r = await sup.get("/api/v1/recordings", params=params)
        assert r.status_code == 200, r.text
        return [x["call_id"] for x in r.json()]

    assert await ids() == ["d1", "q2", "q1"]
    assert await ids(since="2026-03-11", until="2026-03-11") == ["q2"]
    assert await ids(number="0501") == ["q1"]
    assert await ids(queue="701") == ["q2"]
    assert await ids(agent="102") == ["d1", "q1"]
    assert await ids(min_s=10) == ["q2", "q1"]
    assert await ids(max_s=30) == ["d1", "q1"]
    assert await ids(min_s=10, max_s=60) == ["q1"]
    assert await ids(disposition="sale") == ["q1"]
    assert await ids(queue="700", agent="103") == []
    page = await sup.get("/recordings", params={"queue": "701", "disposition": "resolved"})
    assert page.status_code == 200 and page.text.count('<section class="card" id="rec-') == 1


async def test_bad_filters_are_refused(box: Box) -> None:
    await seed(box)
    sup = await box.login("sup")
    r = await sup.get("/api/v1/recordings", params={"min_s": 100, "max_s": 10})
    assert r.status_code == 422 and r.json()["error_id"] == "duration_range_invalid"
    r = await sup.get("/api/v1/recordings", params={"since": "2026-03-12", "until": "2026-03-10"})
    assert r.status_code == 422 and r.json()["error_id"] == "date_range_invalid"
    r = await sup.get("/api/v1/recordings", params={"min_s": -1})
    assert r.status_code == 422 and r.json()["error_id"] == "validation_failed"
    agent = await box.login("agent")
    assert (await agent.get("/api/v1/recordings", params={"queue": "700"})).status_code == 403
    assert await box.rows("SELECT count(*) FROM audit_log WHERE action LIKE 'recording.%'") == [(0,)]


async def test_a_recording_removed_by_retention_says_so_and_its_audio_is_gone(box: Box) -> None:
    await seed(box)
    conn = sqlite3.connect(box.ctl.settings.db_path)
    conn.execute("UPDATE recordings SET expired_at = '2027-03-10T09:00:00+00:00', purged_at = expired_at"
                 " WHERE call_id = 'q1'")
    conn.execute("UPDATE recordings SET legal_hold = 1 WHERE call_id = 'q2'")
    conn.commit()
    conn.close()
    sup = await box.login("sup")
    listed = {x["call_id"]: x for x in (await sup.get("/api/v1/recordings")).json()}
    assert listed["q1"]["expired_at"] == "2027-03-10T09:00:00+00:00" and listed["q2"]["expired_at"] is None
    assert listed["q2"]["legal_hold"] is True
    rec_id = listed["q1"]["id"]
    r = await sup.get(f"/api/v1/recordings/{rec_id}/audio")
    assert r.status_code == 410 and r.json()["error_id"] == "recording_expired"
    assert "2027-03-10" in r.json()["message"]
    page = (await sup.get("/recordings")).text
    card = page[page.index(f'id="rec-{rec_id}"'):]
    card = card[:card.index("</section>")]
    assert "Removed by the retention policy on 2027-03-10" in card and "<audio" not in card
    assert page.count("<audio") == 2 and "Legal hold" in page
