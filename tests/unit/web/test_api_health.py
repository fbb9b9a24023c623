"""System health (SIP edge, modem file, cloud, disk, CPU, temperature) and the admin's live log."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from appliance.cloud import CloudLinkState, LinkView, next_view
from appliance.domain.clock import ManualClock
from appliance.sync.link import State
from appliance.web_services.health import LogBuffer, parse_meminfo, read_modem, read_temperature
from tests.unit.web.conftest import Box


def test_temperature_is_the_hottest_zone_or_not_available(tmp_path: Path) -> None:
    assert read_temperature(tmp_path) is None
    for i, milli in enumerate(("41500", "55250", "junk")):
        (tmp_path / f"thermal_zone{i}").mkdir()
        (tmp_path / f"thermal_zone{i}" / "temp").write_text(milli + "\n")
    assert read_temperature(tmp_path) == 55.25


def test_meminfo_and_modem_readers(tmp_path: Path) -> None:
    assert parse_meminfo("MemTotal: 1000 kB\nMemFree: 10 kB\nMemAvailable: 400 kB\n") == (1024000, 409600)
    assert parse_meminfo("MemTotal: 1000 kB\n") is None
    from datetime import UTC, datetime
    now = datetime.now(UTC)
    assert read_modem(tmp_path / "modem.json", now)["state"] == "not_available"
    (tmp_path / "modem.json").write_text("{not json")
    assert read_modem(tmp_path / "modem.json", now)["state"] == "unreadable"
    (tmp_path / "modem.json").write_text(json.dumps({"state": "ready", "operator": "Partner",
                                                     "signal": {"rssi_dbm": -71}, "imei": "35"}))
    doc = read_modem(tmp_path / "modem.json", now)
    assert (doc["state"], doc["operator"], doc["signal_dbm"]) == ("ready", "Partner", -71)


async def test_system_api_and_page(box: Box) -> None:
    health = box.app.state.services.health
    health.probe_sip = lambda ip, port, timeout: None  # no Kamailio in this unit test: the edge is down
    sup = await box.login("sup")
    r = await sup.get("/api/v1/system")
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["sip_edge"]["state"] == "down" and s["modem"]["state"] == "not_available"
    assert s["cloud"] == {"configured": False} and s["disk"]["total_bytes"] > 0 and s["cpu"]["cores"] >= 1
    assert (s["temperature_c"] is None) == (s["temperature"] == "not available")
    run = box.ctl.settings.run_dir
    run.mkdir(parents=True, exist_ok=True)
    (run / "modem.json").write_text(json.dumps({"state": "ready", "operator": "Partner", "signal": {"rssi_dbm": -60}}))
    health.probe_sip = lambda ip, port, timeout: 200
    box.clock.advance(health.probe_every_s)  # the edge is probed at most once per window
    s = (await sup.get("/api/v1/system")).json()
    assert s["sip_edge"] == {"state": "up", "address": f"127.0.0.1:{box.ctl.settings.sip_port}", "options_code": 200,
                             "last_event": None}
    assert s["modem"]["state"] == "ready" and s["modem"]["signal_dbm"] == -60
    page = await sup.get("/system")
    assert page.status_code == 200 and "Partner" in page.text and "data-log" not in page.text  # log: admins only
    agent = await box.login("agent")
    assert (await agent.get("/api/v1/system")).status_code == 403
    assert (await agent.get("/system")).status_code == 403


async def test_the_edge_is_probed_once_per_window_however_often_the_status_is_read(box: Box) -> None:
    health = box.app.state.services.health
    probes: list[str] = []

    def probe(answer: int | None) -> Callable[[str, int, float], int | None]:
        def go(ip: str, port: int, timeout: float) -> int | None:
            probes.append(ip)
            return answer
        return go

    health.probe_sip = probe(200)
    sup = await box.login("sup")
    for _ in range(5):
        assert (await sup.get("/api/v1/system")).json()["sip_edge"]["state"] == "up"
    assert len(probes) == 1
    health.probe_sip = probe(None)
    box.clock.advance(health.probe_every_s)
    assert (await sup.get("/api/v1/system")).json()["sip_edge"]["state"] == "down"
    assert len(probes) == 2


async def test_live_log_is_admin_only_and_bounded(box: Box) -> None:
    logging.getLogger("appliance.test").warning("kamailio restarted for the test")
    sup = await box.login("sup")
    assert (await sup.get("/api/v1/logs")).status_code == 403
    assert (await sup.get("/api/v1/logs/stream")).status_code == 403
    admin = await box.login("admin")
    lines = (await admin.get("/api/v1/logs")).json()
    assert any(ln["message"] == "kamailio restarted for the test" and ln["level"] == "WARNING" for ln in lines)
    assert (await admin.get("/api/v1/logs", params={"limit": 5000})).json()["error_id"] == "validation_failed"
    page = await admin.get("/system")
    assert "kamailio restarted for the test" in page.text and 'data-log="/api/v1/logs/stream"' in page.text


async def test_log_follow_sends_backlog_then_new_lines_and_ends() -> None:
    buf = LogBuffer(capacity=3)
    log = logging.getLogger("appliance.test.follow")
    log.addHandler(buf)
    log.setLevel(logging.INFO)
    try:
        for i in range(5):
            log.info("line %d", i)
        assert [ln.message for ln in buf.since(0)] == ["line 2", "line 3", "line 4"]  # bounded memory
        got: list[str] = []
        async for batch in buf.follow(backlog=2, max_lines=4, max_s=5.0, poll_s=0.01):
            got += [ln.message for ln in batch]
            if len(got) == 2:
                log.info("line 5")
                log.info("line 6")
                log.info("line 7")
        assert got == ["line 3", "line 4", "line 5", "line 6"]  # stopped at max_lines
    finally:
        log.removeHandler(buf)


def test_cloud_link_view_names_offline_from_when_data_stopped() -> None:
    clock = ManualClock()
    state = CloudLinkState(clock, backlog=lambda: 3)
    start = clock.now()
    assert state.public()["state"] == "connecting" and state.public()["since"] == start.isoformat()
    state.on_link(State.IDLE, State.CONNECTING)
    clock.advance(2)
    state.on_link(State.CONNECTING, State.CONNECTED)
    up = clock.now()
    assert state.public() == {"state": "connected", "since": up.isoformat(), "link": "connected", "connects": 1,
                              "last_connected": up.isoformat(), "backlog": 3}
    clock.advance(60)
    state.on_link(State.CONNECTED, State.WAITING)
    down = clock.now()
    for _ in range(3):  # retries while the broker is away keep the moment the link went down
        clock.advance(5)
        state.on_link(State.WAITING, State.CONNECTING)
        clock.advance(1)
        state.on_link(State.CONNECTING, State.WAITING)
    doc = state.public()
    assert (doc["state"], doc["since"], doc["link"], doc["last_connected"]) == (
        "offline", down.isoformat(), "waiting", up.isoformat())
    state.on_link(State.WAITING, State.CONNECTING)
    state.on_link(State.CONNECTING, State.CONNECTED)
    assert state.public()["state"] == "connected" and state.public()["connects"] == 2
    assert next_view(LinkView.CONNECTED, State.DRAINING) is LinkView.CONNECTED
    assert next_view(LinkView.CONNECTED, State.STOPPED) is LinkView.OFFLINE
    assert next_view(LinkView.CONNECTING, State.WAITING) is LinkView.OFFLINE  # the first attempt failed


async def test_cloud_configured_but_not_started_says_so(box: Box) -> None:
    box.app.state.services.health.probe_sip = lambda ip, port, timeout: None
    box.ctl.settings.extra["cloud"] = {"host": "127.0.0.1", "port": 1883, "node": "box-1"}
    sup = await box.login("sup")
    cloud = (await sup.get("/api/v1/system")).json()["cloud"]
    assert cloud == {"configured": True, "backlog": 0, "state": "not_running", "since": None,
                     "detail": "cloud sync has not started"}
    page = await sup.get("/system")
    assert page.status_code == 200 and 'data-state="not_running"' in page.text and "not running" in page.text
