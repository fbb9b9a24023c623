"""Recording retention: the pure rule; the sweep on a real data dir with real WAV files and an
injected clock (files deleted, rows kept and marked, legal hold honoured, audited, idempotent,
crash-safe); the recording-policy API and page."""

from __future__ import annotations

import asyncio
import sqlite3
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from appliance.controller.recordings import RetentionSweeper
from appliance.domain.clock import ManualClock, iso
from appliance.domain.retention import RecordingFacts, RetentionError, RetentionPolicy, due, expires_at, is_due
from appliance.storage.calls import CallStore, RecordingRow
from appliance.storage.db import open_db
from tests.unit.web.conftest import Box

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = 86400.0


# ----- the pure rule -----

def test_days_per_queue_default_and_the_longest_wins() -> None:
    p = RetentionPolicy(90, {"700": 30, "701": 400})
    assert p.days_for(()) == 90
    assert p.days_for(("700",)) == 30
    assert p.days_for(("702",)) == 90  # a queue without its own setting keeps the default
    assert p.days_for(("700", "701")) == 400  # through two queues: never deleted early
    rec = RecordingFacts(1, T0, ("700",))
    assert expires_at(p, rec) == T0 + timedelta(days=30)
    assert not is_due(p, rec, T0 + timedelta(days=30) - timedelta(seconds=1))
    assert is_due(p, rec, T0 + timedelta(days=30))


def test_legal_hold_and_expired_are_never_due_and_order_is_oldest_first() -> None:
    p = RetentionPolicy(1)
    now = T0 + timedelta(days=10)
    recs = [RecordingFacts(3, T0 + timedelta(days=2)), RecordingFacts(1, T0, legal_hold=True),
            RecordingFacts(2, T0, expired=True), RecordingFacts(4, T0 + timedelta(days=1)),
            RecordingFacts(5, now)]
    assert [r.id for r in due(p, recs, now)] == [4, 3]


@pytest.mark.parametrize("bad", [0, -1, 36501, True])
def test_bad_days_are_refused_with_the_field(bad: int) -> None:
    with pytest.raises(RetentionError) as err:
        RetentionPolicy(bad)
    assert err.value.field == "default_days"
    with pytest.raises(RetentionError) as err:
        RetentionPolicy(30, {"700": bad})
    assert err.value.field == "queues.700"


# ----- the sweep on a real data dir -----

def write_wav(path: Path, seconds: float = 0.2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00" * 2 * int(8000 * seconds))


class Store:
    """A data dir with a migrated database, recordings indexed as the indexer does."""

    def __init__(self, root: Path, db: Any, clock: ManualClock) -> None:
        self.root, self.db, self.clock = root, db, clock
        self.calls = CallStore(db)

    async def recording(self, call_id: str, started: datetime, queue: str = "", hold: bool = False) -> Path:
        rel = Path("recordings") / started.strftime("%Y/%m/%d") / f"{call_id}.wav"
        write_wav(self.root / rel)
        rid = await self.calls.index_recording(RecordingRow(call_id, str(rel), ["101", "102"], started, 0.2,
                                                            (self.root / rel).stat().st_size, "0" * 64, 2))
        if queue:
            await self.db.execute("INSERT INTO queue_events(at, mono, type, queue_id, call_id, data)"
                                  " VALUES (?, 0, 'CallerJoined', ?, ?, '{}')", (iso(started), queue, call_id))
        if hold:
            await self.db.execute("UPDATE recordings SET legal_hold = 1 WHERE id = ?", (rid,))
        return self.root / rel

    async def rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        async with self.db.execute(sql, args) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def states(self) -> dict[str, tuple[bool, bool]]:
        """call id -> (expired, purged)."""
        return {r[0]: (r[1] is not None, r[2] is not None)
                for r in await self.rows("SELECT call_id, expired_at, purged_at FROM recordings ORDER BY id")}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    clock = ManualClock(T0)
    db = await open_db(tmp_path / "appliance.db")
    try:
        yield Store(tmp_path, db, clock)
    finally:
        await db.close()


async def test_sweep_deletes_files_past_retention_keeps_rows_and_holds_audited_idempotent(store: Store) -> None:
    await store.db.execute("UPDATE recording_retention SET days = 10 WHERE scope = '*'")
    await store.db.execute("INSERT INTO recording_retention(scope, days) VALUES ('700', 3), ('701', 30)")
    plain = await store.recording("plain", T0)
    q700 = await store.recording("q700", T0, queue="700")
    q701 = await store.recording("q701", T0, queue="701")
    held = await store.recording("held", T0, queue="700", hold=True)
    young = await store.recording("young", T0 + timedelta(days=4), queue="700")
    sweeper = RetentionSweeper(store.root / "appliance.db", store.root, store.clock)

    files = {"plain": plain, "q700": q700, "q701": q701, "held": held, "young": young}

    def present() -> set[str]:
        return {name for name, f in files.items() if f.exists()}

    r = await sweeper.sweep()  # day 0: nothing is due
    assert (r.expired, r.purged, r.failed) == (0, 0, 0) and len(present()) == 5
    store.clock.advance(3 * DAY)  # day 3: queue 700's recording, not the held one
    r = await sweeper.sweep()
    assert (r.expired, r.purged, r.failed) == (1, 1, 0)
    assert present() == {"plain", "q701", "held", "young"}
    store.clock.advance(7 * DAY)  # day 10: the default (non-queue) one; young (day 4 + 3) too
    r = await sweeper.sweep()
    assert (r.expired, r.purged) == (2, 2) and present() == {"q701", "held"}
    states = await store.states()
    assert states == {"plain": (True, True), "q700": (True, True), "q701": (False, False), "held": (False, False),
                      "young": (True, True)}
    # no row is lost: the index still has all five, with their sizes and hashes, and the CDR link
    assert len(await store.rows("SELECT id FROM recordings WHERE sha256 != ''")) == 5
    audit = await store.rows("SELECT actor, action, target, detail FROM audit_log ORDER BY id")
    assert [(a[0], a[1]) for a in audit] == [("retention", "recording.expire")] * 3
    assert '"days": 3' in audit[0][3] and '"queues": ["700"]' in audit[0][3]
    # idempotent: again at the same time, nothing changes, no new audit rows
    before = await store.rows("SELECT * FROM recordings ORDER BY id")
    r = await sweeper.sweep()
    assert (r.expired, r.purged, r.failed) == (0, 0, 0)
    assert await store.rows("SELECT * FROM recordings ORDER BY id") == before
    assert len(await store.rows("SELECT id FROM audit_log")) == 3
    store.clock.advance(30 * DAY)
    assert (await sweeper.sweep()).expired == 1 and present() == {"held"}  # legal hold outlives everything


async def test_a_crash_between_mark_and_delete_is_finished_by_the_next_sweep(store: Store) -> None:
    await store.db.execute("UPDATE recording_retention SET days = 1 WHERE scope = '*'")
    a = await store.recording("a", T0)
    b = await store.recording("b", T0)
    store.clock.advance(2 * DAY)
    sweeper = RetentionSweeper(store.root / "appliance.db", store.root, store.clock)
    # the process dies right after phase 1 committed: rows say expired, files still there
    conn = sqlite3.connect(store.root / "appliance.db", isolation_level=None)
    try:
        assert sweeper._mark(conn, store.clock.now()) == 2
    finally:
        conn.close()
    assert await store.states() == {"a": (True, False), "b": (True, False)}  # "pending", never "has a file"
    assert a.exists() and b.exists()
    # ... and for b it died after the unlink, before purged_at was written
    b.unlink()
    r = await sweeper.sweep()  # the next start
    assert (r.expired, r.purged, r.failed) == (0, 2, 0)
    assert not a.exists() and await store.states() == {"a": (True, True), "b": (True, True)}
    assert len(await store.rows("SELECT id FROM audit_log WHERE action = 'recording.expire'")) == 2


async def test_a_path_outside_the_data_dir_is_never_deleted(store: Store, tmp_path_factory: Any) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "victim.wav"
    write_wav(outside)
    await store.calls.index_recording(RecordingRow("evil", str(Path("..") / ".." / outside), ["1"], T0, 0.2, 1,
                                                   "0" * 64, 2))
    store.clock.advance(400 * DAY)
    r = await RetentionSweeper(store.root / "appliance.db", store.root, store.clock).sweep()
    assert (r.expired, r.purged, r.failed) == (1, 0, 1) and outside.exists()
    assert await store.states() == {"evil": (True, False)}


async def test_the_sweeper_runs_at_start_and_then_every_interval(store: Store) -> None:
    await store.db.execute("UPDATE recording_retention SET days = 1 WHERE scope = '*'")
    first = await store.recording("first", T0 - timedelta(days=2))
    later = await store.recording("later", T0)
    asked: list[float] = []
    tick: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(seconds: float) -> None:  # the injected wait: the test decides when an hour has passed
        asked.append(seconds)
        await tick.get()

    sweeper = RetentionSweeper(store.root / "appliance.db", store.root, store.clock, sleep=sleep)
    sweeper.start()
    try:
        r = await asyncio.wait_for(sweeper.swept.get(), 10)
        assert (r.expired, r.purged) == (1, 1) and not first.exists() and later.exists()
        store.clock.advance(DAY)
        tick.put_nowait(None)
        r = await asyncio.wait_for(sweeper.swept.get(), 10)
        assert (r.expired, r.purged) == (1, 1) and not later.exists()
        assert asked[:2] == [3600.0, 3600.0]
    finally:
        await sweeper.stop()


# ----- API and page -----

@pytest.fixture
async def pbox(acd: Box) -> AsyncIterator[Box]:
    """The web box with queue 700 and the retention sweeper (the one build_controller wired, if any)."""
    idx = acd.ctl.sessions.indexer
    started = idx.retention is not None
    if not started:
        idx.retention = RetentionSweeper(acd.ctl.settings.db_path, idx.data_dir, acd.clock)
    try:
        yield acd
    finally:
        if idx.retention is not None:
            await idx.retention.stop()


async def policy_rows(b: Box) -> dict[str, list[tuple[Any, ...]]]:
    return {"retention": await b.rows("SELECT * FROM recording_retention ORDER BY 1"),
            "queues": await b.rows("SELECT number, record FROM queues ORDER BY 1"),
            "recordings": await b.rows("SELECT * FROM recordings ORDER BY 1"),
            "changes": await b.rows("SELECT * FROM audit_log WHERE action NOT LIKE 'login%' ORDER BY 1")}


async def test_api_sets_retention_per_queue_and_the_sweep_applies_it(pbox: Box) -> None:
    sup = await pbox.login("sup")
    got = (await sup.get("/api/v1/recording-policy")).json()
    assert got["default_days"] == 365 and got["counts"] == {"kept": 0, "held": 0, "pending": 0, "expired": 0}
    assert got["queues"] == [{"number": "700", "name": "Support queue", "record": True, "days": None,
                              "effective_days": 365}]
    admin = await pbox.login("admin")
    r = await admin.put("/api/v1/recording-policy", json={"default_days": 30, "queues": {"700": 7}})
    assert r.status_code == 200, r.text
    assert r.json()["queues"][0]["days"] == 7 and r.json()["default_days"] == 30
    (detail,), = await pbox.rows("SELECT detail FROM audit_log WHERE action = 'recording_policy.update'")
    assert '"default_days": 30' in detail
    # a queue call's recording and another call's, both 8 days old
    data = pbox.ctl.settings.data_dir
    store = Store(data, pbox.ctl.db, pbox.clock)
    q = await store.recording("qcall", pbox.clock.now(), queue="700")
    other = await store.recording("other", pbox.clock.now())
    pbox.clock.advance(8 * DAY)
    admin, sup = await pbox.login("admin"), await pbox.login("sup")  # sessions last 12 hours
    r = await admin.post("/api/v1/recording-policy/sweep")
    assert r.status_code == 200 and r.json() == {"expired": 1, "purged": 1, "failed": 0}
    assert not q.exists() and other.exists()
    got = (await sup.get("/api/v1/recording-policy")).json()
    assert got["counts"] == {"kept": 1, "held": 0, "pending": 0, "expired": 1}
    assert got["last_sweep"] == {"expired": 1, "purged": 1, "failed": 0}
    # back to the default for 700
    r = await admin.put("/api/v1/recording-policy", json={"default_days": 30, "queues": {"700": None}})
    assert r.json()["queues"][0] == {"number": "700", "name": "Support queue", "record": True, "days": None,
                                     "effective_days": 30}


async def test_api_record_flag_through_the_queue_service_and_refusals_write_nothing(pbox: Box) -> None:
    admin = await pbox.login("admin")
    r = await admin.put("/api/v1/recording-policy/queues/700/record", json={"record": False})
    assert r.status_code == 200 and r.json()["queues"][0]["record"] is False
    assert pbox.ctl.queues.rows["700"].record is False  # live in the ACD at once
    assert (await admin.get("/api/v1/queues/700")).json()["record"] is False
    before = await policy_rows(pbox)
    for body, status, error_id in [
        ({"default_days": 0}, 422, "default_days_invalid"),
        ({"default_days": 30, "queues": {"700": 40000}}, 422, "queues_invalid"),
        ({"default_days": 30, "queues": {"799": 5}}, 422, "queue_not_found"),
        ({"default_days": "lots"}, 422, "validation_failed"),
    ]:
        r = await admin.put("/api/v1/recording-policy", json=body)
        assert r.status_code == status and r.json()["error_id"] == error_id, (body, r.text)
        assert r.json()["message"]
    r = await admin.put("/api/v1/recording-policy/queues/799/record", json={"record": True})
    assert r.status_code == 404 and r.json()["error_id"] == "queue_not_found"
    sup = await pbox.login("sup")
    assert (await sup.put("/api/v1/recording-policy", json={"default_days": 5})).status_code == 403
    assert (await sup.post("/api/v1/recording-policy/sweep")).status_code == 403
    r = await sup.put("/api/v1/recording-policy/queues/700/record", json={"record": True})
    assert r.status_code == 403 and r.json()["error_id"] == "role_forbidden"
    agent = await pbox.login("agent")
    assert (await agent.get("/api/v1/recording-policy")).status_code == 403
    assert await policy_rows(pbox) == before


async def test_recording_policy_page(pbox: Box) -> None:
    from tests.unit.web.test_pages import page_login

    c, token = await page_login(pbox, "admin")
    page = await c.get("/recording-policy")
    assert page.status_code == 200 and 'data-queue="700"' in page.text and "Save retention" in page.text
    r = await c.post("/recording-policy", data={"default_days": "60", "days_700": "14", "csrf_token": token})
    assert r.status_code == 303
    html = (await c.get("/recording-policy")).text
    assert 'name="days_700" type="number" min="1" max="36500" value="14"' in html and "14 days" in html
    r = await c.post("/recording-policy/record/700", data={"csrf_token": token})  # no "record": off
    assert r.status_code == 303 and pbox.ctl.queues.rows["700"].record is False
    assert "Record 700" in (await c.get("/recording-policy")).text
    before = await policy_rows(pbox)
    for form, error_id in [({"default_days": "0", "days_700": ""}, "default_days_invalid"),
                           ({"default_days": "ten", "days_700": ""}, "field_not_integer"),
                           ({"default_days": "30", "days_700": "99999"}, "queues_invalid")]:
        r = await c.post("/recording-policy", data={**form, "csrf_token": token})
        assert r.status_code == 422 and error_id in r.text and 'role="alert"' in r.text, (form, r.text[-500:])
    assert await policy_rows(pbox) == before
    r = await c.post("/recording-policy/sweep", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/recording-policy?swept=0"
    sup, sup_token = await page_login(pbox, "sup")
    page = await sup.get("/recording-policy")
    assert page.status_code == 200 and "Save retention" not in page.text and "Sweep now" not in page.text
    r = await sup.post("/recording-policy", data={"default_days": "5", "csrf_token": sup_token})
    assert r.status_code == 403
    agent, _ = await page_login(pbox, "agent")
    assert (await agent.get("/recording-policy")).status_code == 403


async def test_the_controller_sweeps_at_start(tmp_path: Path) -> None:
    """A recording past the default retention when the box starts loses its file in the first sweep."""
    from appliance.app import build_controller
    from appliance.config import Settings

    db = await open_db(tmp_path / "appliance.db")
    old = await Store(tmp_path, db, ManualClock(T0)).recording("old", T0 - timedelta(days=400))
    await db.close()
    ctl = await build_controller(Settings(data_dir=tmp_path, demo=False), ManualClock(T0))
    sweeper = ctl.sessions.indexer.retention
    try:
        assert sweeper is not None
        r = await asyncio.wait_for(sweeper.swept.get(), 10)
        assert (r.expired, r.purged) == (1, 1) and not old.exists()
    finally:
        if sweeper is not None:
            await sweeper.stop()
        await ctl.db.close()


async def test_legal_hold_through_api_and_page_keeps_the_file_past_retention(pbox: Box) -> None:
    from tests.unit.web.test_pages import page_login

    store = Store(pbox.ctl.settings.data_dir, pbox.ctl.db, pbox.clock)
    f1 = await store.recording("keepme", pbox.clock.now())
    f2 = await store.recording("other", pbox.clock.now())
    (id1,), (id2,) = await store.rows("SELECT id FROM recordings ORDER BY id")
    admin = await pbox.login("admin")
    r = await admin.put(f"/api/v1/recordings/{id1}/legal-hold", json={"hold": True})
    assert r.status_code == 200 and [h["call_id"] for h in r.json()["held"]] == ["keepme"]
    c, token = await page_login(pbox, "admin")
    assert f'data-held="{id1}"' in (await c.get("/recording-policy")).text
    pbox.clock.advance(400 * DAY)
    admin, (c, token) = await pbox.login("admin"), await page_login(pbox, "admin")
    r = await admin.post("/api/v1/recording-policy/sweep")
    assert r.json() == {"expired": 1, "purged": 1, "failed": 0}
    assert f1.exists() and not f2.exists()
    before = await policy_rows(pbox)
    r = await admin.put(f"/api/v1/recordings/{id2}/legal-hold", json={"hold": True})
    assert r.status_code == 409 and r.json()["error_id"] == "recording_expired"
    r = await admin.put("/api/v1/recordings/999/legal-hold", json={"hold": True})
    assert r.status_code == 404 and r.json()["error_id"] == "recording_not_found"
    r = await c.post("/recording-policy/hold", data={"recording_id": "abc", "hold": "1", "csrf_token": token})
    assert r.status_code == 422 and "field_not_integer" in r.text
    r = await c.post("/recording-policy/hold", data={"recording_id": str(2**64), "hold": "1", "csrf_token": token})
    assert r.status_code == 422 and "recording_id_invalid" in r.text
    sup = await pbox.login("sup")
    assert (await sup.put(f"/api/v1/recordings/{id1}/legal-hold", json={"hold": False})).status_code == 403
    assert await policy_rows(pbox) == before
    # released on the page: the next sweep deletes it
    r = await c.post("/recording-policy/hold", data={"recording_id": str(id1), "csrf_token": token})
    assert r.status_code == 303
    assert (await admin.post("/api/v1/recording-policy/sweep")).json()["purged"] == 1 and not f1.exists()
    holds = await pbox.rows("SELECT target, detail FROM audit_log WHERE action = 'recording.legal_hold' ORDER BY id")
    assert holds == [(str(id1), '{"hold": true}'), (str(id1), '{"hold": false}')]
