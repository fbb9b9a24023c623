"""The exporter copies finished CDRs, alarms and supervisor events into the outbox exactly
once, in the same transaction that marks them exported."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from appliance.domain.clock import ManualClock
from appliance.storage.calls import CallStore
from appliance.storage.db import open_db
from appliance.sync.clock import SystemClock
from appliance.sync.exporter import Exporter
from appliance.sync.outbox import Outbox
from appliance.sync.ulid import UlidGenerator


async def rows(db, sql: str) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    async with db.execute(sql) as cur:
        return [tuple(r) for r in await cur.fetchall()]


async def test_rows_reach_the_outbox_once(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "a.db")
    box_conn = await open_db(tmp_path / "a.db")
    try:
        clock = ManualClock()
        calls = CallStore(db)
        outbox = await Outbox.open(box_conn, "box-1", SystemClock(), UlidGenerator(SystemClock()))
        exporter = Exporter(db, outbox)
        await calls.cdr_open("c1", "echo", "101", "*43", clock.now())
        assert await exporter.export_once() == 0  # an open call is not exported yet
        clock.advance(5)
        await calls.cdr_close("c1", clock.now(), 200, "normal")
        await calls.raise_alarm(clock.now(), "major", "media_pool_full", "full")
        await calls.clear_alarm(clock.now(), "media_pool_full")
        await db.execute(
            "INSERT INTO service_events(at, service, event, detail) VALUES ('t', 'kamailio', 'died', 'x')"
        )
        assert await exporter.export_once() == 4
        assert await exporter.export_once() == 0  # nothing twice
        got = await rows(box_conn, "SELECT stream, type, data FROM sync_outbox ORDER BY seq")
        assert [(s, t) for s, t, _ in got] == [
            ("cdr", "cdr"), ("alarm", "alarm_raised"), ("alarm", "alarm_cleared"), ("service", "service_died"),
        ]
        assert json.loads(str(got[0][2]))["call_id"] == "c1"
    finally:
        await db.close()
        await box_conn.close()


async def test_a_failed_append_marks_nothing(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "a.db")
    box_conn = await open_db(tmp_path / "a.db")
    try:
        clock = ManualClock()
        calls = CallStore(db)
        await calls.cdr_open("c1", "echo", "101", "*43", clock.now())
        await calls.cdr_close("c1", clock.now(), 200, "normal")
        outbox = await Outbox.open(box_conn, "box-1", SystemClock(), UlidGenerator(SystemClock()))
        await box_conn.execute("INSERT INTO sync_exports(stream, key) VALUES ('x', 'y')")
        # a statement that fails inside the transaction rolls the outbox rows back too
        with pytest.raises(sqlite3.IntegrityError):
            await outbox.append_many(
                "cdr", [("cdr", {"a": 1})], also=[("INSERT INTO sync_exports VALUES ('x','y')", [])]
            )
        assert await rows(box_conn, "SELECT count(*) FROM sync_outbox") == [(0,)]
        assert await Exporter(db, outbox).export_once() == 1
        assert await rows(box_conn, "SELECT count(*) FROM sync_outbox") == [(1,)]
    finally:
        await db.close()
        await box_conn.close()
