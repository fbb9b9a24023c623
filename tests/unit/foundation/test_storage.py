"""Migrations, the directory (HA1 only) and CDR rows, on a real SQLite file."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from appliance.domain.clock import ManualClock
from appliance.storage.calls import CallStore
from appliance.storage.db import load_migrations, migrate_sync, open_db
from appliance.storage.directory import DirectoryStore, generate_password, ha1


def test_migrations_are_numbered_uniquely_and_apply_once(tmp_path: Path) -> None:
    numbers = [m.number for m in load_migrations()]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1
    db = tmp_path / "a.db"
    assert migrate_sync(db) == numbers
    assert migrate_sync(db) == []
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_open_db_is_durable(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "a.db")
    try:
        async with db.execute("PRAGMA synchronous") as cur:
            assert (await cur.fetchone())[0] == 2  # FULL
    finally:
        await db.close()


async def test_only_the_ha1_is_stored(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "a.db")
    try:
        d = DirectoryStore(db, "appliance")
        assert await d.is_empty()
        ext = await d.create_extension("101", "Reception")
        assert len(ext.password) == 16
        expected = hashlib.md5(f"101:appliance:{ext.password}".encode()).hexdigest()
        assert await d.ha1_for("101") == expected == ha1("101", "appliance", ext.password)
        async with db.execute("SELECT * FROM extensions") as cur:
            row = await cur.fetchone()
        assert ext.password not in [str(v) for v in tuple(row)]
        new = await d.reset_password("101")
        assert new != ext.password and await d.ha1_for("101") == ha1("101", "appliance", new)
        assert await d.ha1_for("999") is None
    finally:
        await db.close()


def test_generated_passwords_differ() -> None:
    assert len({generate_password() for _ in range(50)}) == 50


async def test_cdr_lifecycle_and_crash_recovery(tmp_path: Path) -> None:
    clock = ManualClock()
    db = await open_db(tmp_path / "a.db")
    try:
        s = CallStore(db)
        await s.cdr_open("c1", "extension", "101", "102", clock.now())
        clock.advance(2)
        await s.cdr_answered("c1", clock.now(), "102")
        clock.advance(10)
        assert await s.cdr_close("c1", clock.now(), 200, "normal")
        assert not await s.cdr_close("c1", clock.now(), 200, "normal")  # closed once
        await s.cdr_open("c2", "echo", "101", "*43", clock.now())
        assert await s.close_interrupted(clock.now()) == 1
        async with db.execute("SELECT call_id, duration_s, sip_code, cause FROM cdrs ORDER BY id") as cur:
            rows = [tuple(r) for r in await cur.fetchall()]
        assert rows[0][0] == "c1" and abs(rows[0][1] - 10.0) < 0.01 and rows[0][2:] == (200, "normal")
        assert rows[1][2:] == (500, "controller_restart")
    finally:
        await db.close()


async def test_alarm_raised_once_until_cleared(tmp_path: Path) -> None:
    clock = ManualClock()
    db = await open_db(tmp_path / "a.db")
    try:
        s = CallStore(db)
        await s.raise_alarm(clock.now(), "major", "x", "one")
        await s.raise_alarm(clock.now(), "major", "x", "two")
        await s.clear_alarm(clock.now(), "x")
        await s.raise_alarm(clock.now(), "major", "x", "three")
        async with db.execute("SELECT message, cleared_at IS NULL FROM alarms ORDER BY id") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [("one", 0), ("three", 1)]
    finally:
        await db.close()
