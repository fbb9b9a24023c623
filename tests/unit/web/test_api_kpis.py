"""Reports by interval: queue KPIs (by queue, agent, all), agent occupancy and pauses, CSV, roles, bad input."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from appliance.acd.events import (
    AgentAnswered,
    AgentCallEnded,
    AgentEvent,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentUnpaused,
    AgentWrapUpEnded,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallerJoined,
    QueueEvent,
)
from appliance.storage.queues import QueueStore, event_fields
from appliance.web_services.kpi_report import GroupBy, Interval, agent_report, decode, queue_report
from tests.unit.web.conftest import Box

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)  # the ManualClock's day


def m(minutes: float) -> float:
    return minutes * 60.0


# One agent's morning on queue 700: a call answered in SL, one abandoned, lunch, a slow answer, logout.
DAY: list[AgentEvent | QueueEvent] = [
    AgentLoggedIn(agent_id="102", at=0, old="logged_out", new="available"),
    CallerJoined(queue_id="700", call_id="c1", at=m(10), number="0501", priority=0, position=1),
    CallAnswered(queue_id="700", call_id="c1", at=m(10) + 10, agent_id="102", wait_s=10),
    AgentAnswered(agent_id="102", at=m(10) + 10, old="available", new="on_call", call_id="c1", queue_id="700"),
    CallEnded(queue_id="700", call_id="c1", at=m(15) + 10, agent_id="102", talk_s=300, wrap_up_s=30),
    AgentCallEnded(agent_id="102", at=m(15) + 10, old="on_call", new="wrap_up", call_id="c1", queue_id="700",
                   wrap_up_s=30),
    AgentWrapUpEnded(agent_id="102", at=m(15) + 40, old="wrap_up", new="available"),
    CallerJoined(queue_id="700", call_id="c2", at=m(20), number="0502", priority=0, position=1),
    CallAbandoned(queue_id="700", call_id="c2", at=m(20) + 40, wait_s=40, position=1),
    AgentPaused(agent_id="102", at=m(30), old="available", new="paused", reason="lunch"),
    AgentUnpaused(agent_id="102", at=m(70), old="paused", new="available"),
    CallerJoined(queue_id="700", call_id="c3", at=m(90), number="0501", priority=0, position=1),
    CallAnswered(queue_id="700", call_id="c3", at=m(90) + 30, agent_id="102", wait_s=30),
    AgentAnswered(agent_id="102", at=m(90) + 30, old="available", new="on_call", call_id="c3", queue_id="700"),
    CallEnded(queue_id="700", call_id="c3", at=m(92) + 30, agent_id="102", talk_s=120, wrap_up_s=0),
    AgentCallEnded(agent_id="102", at=m(92) + 30, old="on_call", new="available", call_id="c3", queue_id="700",
                   wrap_up_s=0),
    AgentLoggedOut(agent_id="102", at=m(120), old="available", new="logged_out"),
]


def walled() -> list[tuple[datetime, AgentEvent | QueueEvent]]:
    return [(T0 + timedelta(seconds=ev.at), ev) for ev in DAY]


async def seed(box: Box) -> None:
    store = QueueStore(box.ctl.db)
    for ev in DAY:
        await store.append([ev], T0 + timedelta(seconds=ev.at), ev.at)
    box.clock.advance(m(12 * 60))  # 12:00 on that day


def test_logged_events_read_back_as_the_same_events() -> None:
    for ev in DAY:
        assert decode(type(ev).__name__, event_fields(ev)) == ev
    assert decode("SomethingNew", {}) is None


def test_queue_report_by_hour_uses_the_acd_arithmetic() -> None:
    rows = queue_report(walled(), Interval.HOUR, GroupBy.QUEUE)
    assert [(r.interval_start.hour, r.key) for r in rows] == [(9, "700"), (10, "700")]
    h9, h10 = rows
    assert (h9.entered, h9.answered, h9.abandoned) == (2, 1, 1)
    assert h9.service_level == 0.5 and h9.asa_s == 10 and h9.aht_s == 330 and h9.abandon_rate == 0.5
    assert (h10.entered, h10.answered, h10.service_level, h10.asa_s, h10.aht_s) == (1, 1, 0.0, 30, 120)
    total, = queue_report(walled(), Interval.DAY, GroupBy.TOTAL)
    assert (total.key, total.entered, total.answered, total.abandoned) == ("all", 3, 2, 1)
    assert total.service_level == pytest.approx(1 / 3) and total.aht_s == 225
    agent, = queue_report(walled(), Interval.DAY, GroupBy.AGENT)
    assert (agent.key, agent.answered, agent.asa_s, agent.entered) == ("102", 2, 20, 0)


def test_agent_report_splits_state_time_at_interval_boundaries() -> None:
    rows = agent_report(walled(), T0.replace(hour=0), T0.replace(hour=12), Interval.HOUR)
    assert [r.interval_start.hour for r in rows] == [9, 10]
    h9, h10 = rows
    assert (h9.available_s, h9.on_call_s, h9.wrap_up_s, h9.paused_s) == (1470, 300, 30, 1800)
    assert h9.pauses == {"lunch": 1800} and h9.occupancy == pytest.approx(330 / 1800)
    assert (h10.available_s, h10.on_call_s, h10.paused_s, h10.pauses) == (2880, 120, 600, {"lunch": 600})
    assert h10.occupancy == pytest.approx(120 / 3000)
    # the state an agent was in when the period began counts from its start
    later = agent_report([], T0.replace(hour=13), T0.replace(hour=14), Interval.DAY, {"103": ("paused", "break")})
    assert [(r.agent_id, r.paused_s, r.pauses) for r in later] == [("103", 3600, {"break": 3600})]


async def test_api_queue_report_and_csv(box: Box) -> None:
    await seed(box)
    sup = await box.login("sup")
    r = await sup.get("/api/v1/reports/queues", params={"since": "2026-01-01", "interval": "hour"})
    assert r.status_code == 200, r.text
    assert [(x["interval_start"][:13], x["entered"], x["service_level"]) for x in r.json()] == [
        ("2026-01-01T09", 2, 0.5), ("2026-01-01T10", 1, 0.0)]
    r = await sup.get("/api/v1/reports/queues.csv", params={"since": "2026-01-01", "interval": "day", "by": "total"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 1 and rows[0]["key"] == "all" and rows[0]["entered"] == "3" and rows[0]["aht_s"] == "225.0"
    # today (the clock's day) is the default period
    assert len((await sup.get("/api/v1/reports/queues")).json()) == 2
    assert (await sup.get("/api/v1/reports/queues", params={"since": "2026-01-02"})).json() == []


async def test_api_agent_report_and_pause_csv(box: Box) -> None:
    await seed(box)
    sup = await box.login("sup")
    r = await sup.get("/api/v1/reports/agents", params={"since": "2026-01-01", "interval": "day"})
    assert r.status_code == 200, r.text
    day, = r.json()
    assert day["agent_id"] == "102" and day["paused_s"] == 2400 and day["pauses"] == {"lunch": 2400}
    assert day["occupancy"] == pytest.approx(450 / 4800)
    r = await sup.get("/api/v1/reports/pauses.csv", params={"since": "2026-01-01", "interval": "hour"})
    assert [(x["interval_start"][11:13], x["reason"], x["paused_s"]) for x in csv.DictReader(io.StringIO(r.text))] \
        == [("09", "lunch", "1800.0"), ("10", "lunch", "600.0")]
    r = await sup.get("/api/v1/reports/agents.csv", params={"since": "2026-01-01"})
    assert next(iter(csv.DictReader(io.StringIO(r.text))))["occupancy"] == str(round(330 / 1800, 3))


async def test_reports_are_for_supervisors_and_refuse_bad_ranges(box: Box) -> None:
    await seed(box)
    before = await box.rows("SELECT count(*) FROM queue_events")
    agent = await box.login("agent")
    for path in ("/api/v1/reports/queues", "/api/v1/reports/agents.csv", "/reports"):
        r = await agent.get(path)
        assert r.status_code == 403, path
    sup = await box.login("sup")
    r = await sup.get("/api/v1/reports/queues", params={"since": "2026-01-05", "until": "2026-01-01"})
    assert r.status_code == 422 and r.json()["error_id"] == "date_range_invalid"
    r = await sup.get("/api/v1/reports/agents", params={"since": "2026-01-01", "until": "2026-03-01"})
    assert r.status_code == 422 and r.json()["error_id"] == "date_range_too_long"
    assert r.json()["details"]["max_days"] == 31
    r = await sup.get("/api/v1/reports/queues", params={"interval": "minute"})
    assert r.status_code == 422 and r.json()["error_id"] == "validation_failed"
    assert (await sup.get("/api/v1/reports/queues", params={"interval": "day", "since": "2026-01-01",
                                                            "until": "2026-03-01"})).status_code == 200
    assert await box.rows("SELECT count(*) FROM queue_events") == before


async def test_reports_page_has_tables_charts_and_csv_links(box: Box) -> None:
    await seed(box)
    sup = await box.login("sup")
    r = await sup.get("/reports", params={"since": "2026-01-01"})
    assert r.status_code == 200
    html = r.text
    assert '/static/vendor/chart.umd.js' in html and 'data-chart="volume"' in html
    assert "/api/v1/reports/queues.csv?since=2026-01-01&amp;until=2026-01-01&amp;interval=hour&amp;by=queue" in html
    assert "2026-01-01 09:00" in html and "50 %" in html and "lunch 1800 s" in html
