"""CDRs (filters, CSV), recordings (audited playback and download), alarms, events, audit, status."""

from __future__ import annotations

import csv
import io
import json
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.storage.calls import CallStore, RecordingRow
from tests.unit.web.conftest import Box

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


async def seed_calls(box: Box) -> CallStore:
    store = CallStore(box.ctl.db)
    calls = [("a", "101", "102", T0, 200, "normal"), ("b", "103", "600", T0 + timedelta(days=1), 480, "no_answer"),
             ("c", "102", "555", T0 + timedelta(days=2), 404, "not_found")]
    for call_id, caller, callee, at, code, cause in calls:
        await store.cdr_open(call_id, "extension", caller, callee, at)
        if code == 200:
            await store.cdr_answered(call_id, at + timedelta(seconds=2), callee)
        await store.cdr_close(call_id, at + timedelta(seconds=30), code, cause)
    return store


def write_wav(path: Path, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00" * 2 * int(8000 * seconds))


async def seed_recording(box: Box, store: CallStore, rel: str = "recordings/2026/03/10/a.wav") -> int:
    path = box.ctl.settings.data_dir / rel
    if not rel.startswith(".."):
        write_wav(path)
    return await store.index_recording(RecordingRow(
        "a", rel, ["101", "102"], T0, 0.5, path.stat().st_size if path.exists() else 0, "ab" * 32, 2))


async def test_cdrs_filter_by_date_number_cause(box: Box) -> None:
    await seed_calls(box)
    c = await box.login("sup")
    ids = lambda r: [x["call_id"] for x in r.json()]  # noqa: E731
    assert ids(await c.get("/api/v1/cdrs")) == ["c", "b", "a"]
    assert ids(await c.get("/api/v1/cdrs", params={"since": "2026-03-11", "until": "2026-03-11"})) == ["b"]
    assert ids(await c.get("/api/v1/cdrs", params={"number": "102"})) == ["c", "a"]
    assert ids(await c.get("/api/v1/cdrs", params={"cause": "not_found"})) == ["c"]
    assert ids(await c.get("/api/v1/cdrs", params={"limit": 1, "offset": 1})) == ["b"]
    row = (await c.get("/api/v1/cdrs", params={"cause": "normal"})).json()[0]
    assert row["answered_by"] == "102" and row["duration_s"] == pytest.approx(28.0) and row["sip_code"] == 200


@pytest.mark.parametrize(("params", "error_id"), [
    ({"since": "2026-03-12", "until": "2026-03-10"}, "date_range_invalid"),
    ({"since": "yesterday"}, "validation_failed"),
    ({"limit": 0}, "validation_failed"),
    ({"limit": 5000}, "validation_failed"),
    ({"number": "1" * 40}, "validation_failed"),
])
async def test_bad_cdr_queries_are_clear_422(box: Box, params: dict[str, str | int], error_id: str) -> None:
    c = await box.login("sup")
    r = await c.get("/api/v1/cdrs", params=params)
    assert r.status_code == 422 and r.json()["error_id"] == error_id
    if "limit" not in params:  # the export has no paging
        r = await c.get("/api/v1/cdrs.csv", params=params)
        assert r.status_code == 422 and r.json()["error_id"] == error_id


async def test_cdr_csv_export(box: Box) -> None:
    await seed_calls(box)
    c = await box.login("sup")
    r = await c.get("/api/v1/cdrs.csv", params={"since": "2026-03-10", "until": "2026-03-11"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["call_id"], x["cause"]) for x in rows] == [("a", "normal"), ("b", "no_answer")]


async def test_csv_export_streams_many_rows(box: Box) -> None:
    store = CallStore(box.ctl.db)
    for i in range(1203):
        await store.cdr_open(f"bulk{i}", "extension", "101", "102", T0 + timedelta(seconds=i))
    r = await (await box.login("sup")).get("/api/v1/cdrs.csv")
    lines = r.text.strip().splitlines()
    assert len(lines) == 1204 and lines[1].split(",")[1] == "bulk0" and lines[-1].split(",")[1] == "bulk1202"


async def test_recording_playback_and_download_are_audited(box: Box) -> None:
    store = await seed_calls(box)
    rid = await seed_recording(box, store)
    c = await box.login("sup")
    listing = (await c.get("/api/v1/recordings", params={"number": "102"})).json()
    assert [r["id"] for r in listing] == [rid] and "path" not in listing[0]
    assert (await c.get("/api/v1/recordings", params={"number": "999"})).json() == []
    r = await c.get(f"/api/v1/recordings/{rid}/audio")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav" and r.content[:4] == b"RIFF"
    assert r.headers["content-disposition"].startswith("inline")
    # the browser's follow-up range request of the same playback is served, not audited again
    part = await c.get(f"/api/v1/recordings/{rid}/audio", headers={"range": "bytes=100-199"})
    assert part.status_code == 206 and len(part.content) == 100
    d = await c.get(f"/api/v1/recordings/{rid}/download")
    assert d.status_code == 200 and d.headers["content-disposition"].startswith("attachment")
    assert d.content == (box.ctl.settings.data_dir / "recordings/2026/03/10/a.wav").read_bytes()
    audit = await box.rows("SELECT actor, action, target, detail FROM audit_log WHERE action LIKE 'recording.%'")
    assert audit == [("sup", "recording.play", str(rid), json.dumps({"call_id": "a"})),
                     ("sup", "recording.download", str(rid), json.dumps({"call_id": "a"}))]


async def test_recording_files_outside_the_data_dir_are_never_served(box: Box, tmp_path: Path) -> None:
    store = CallStore(box.ctl.db)
    rid = await seed_recording(box, store, "../../../../etc/passwd")
    c = await box.login("admin")
    r = await c.get(f"/api/v1/recordings/{rid}/download")
    assert r.status_code == 404 and r.json()["error_id"] == "recording_file_missing"
    assert (await c.get("/api/v1/recordings/999/audio")).json()["error_id"] == "recording_not_found"
    r = await c.get("/api/v1/recordings/..%2f..%2fetc%2fpasswd/audio")
    assert r.status_code == 404 and r.json()["error_id"] == "not_found"  # no such route: ids only
    assert await box.rows("SELECT * FROM audit_log WHERE action LIKE 'recording.%'") == []


async def test_alarms_and_service_events(box: Box) -> None:
    store = CallStore(box.ctl.db)
    await store.raise_alarm(T0, "major", "media_pool_full", "no free media worker")
    await store.raise_alarm(T0, "warning", "disk_low", "disk 90% full")
    await store.clear_alarm(T0 + timedelta(minutes=1), "disk_low")
    await box.ctl.db.execute("INSERT INTO service_events(at, service, event, detail) VALUES"
                             " ('2026-03-10T09:00:00Z', 'worker-w1', 'died', 'exit 1')")
    c = await box.login("sup")
    alarms = (await c.get("/api/v1/alarms")).json()
    assert [(a["code"], a["cleared_at"] is None) for a in alarms] == [("media_pool_full", True), ("disk_low", False)]
    assert (await c.get("/api/v1/service-events")).json()[0]["event"] == "died"
    status = (await c.get("/api/v1/status")).json()
    assert status["open_alarms"] == 1 and status["disk_total_bytes"] > 0 and len(status["load_average"]) == 3


async def test_read_roles(box: Box) -> None:
    agent, sup = await box.login("agent"), await box.login("sup")
    for url in ("/api/v1/cdrs", "/api/v1/cdrs.csv", "/api/v1/recordings", "/api/v1/recordings/1/audio",
                "/api/v1/recordings/1/download", "/api/v1/alarms", "/api/v1/service-events", "/api/v1/audit",
                "/api/v1/tls"):
        r = await agent.get(url)
        assert r.status_code == 403 and r.json()["error_id"] == "role_forbidden", url
    for url in ("/api/v1/audit", "/api/v1/tls"):
        assert (await sup.get(url)).status_code == 403
    admin = await box.login("admin")
    audit = (await admin.get("/api/v1/audit", params={"action": "login."})).json()
    assert {e["actor"] for e in audit} == {"admin", "sup", "agent"}
    assert all(e["action"].startswith("login.") for e in audit)
