"""The managed configuration: shape validation, one-transaction apply, snapshot."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from appliance.app import build_controller
from appliance.cloud_hooks import CloudHooks, Refused, _apply_in, snapshot, validate
from appliance.config import Settings
from appliance.domain.clock import ManualClock
from appliance.storage.db import migrate_sync


def test_shape_errors_are_all_listed() -> None:
    errors = validate({
        "trunks": {},
        "ring_groups": {"6": {"name": "", "members": [], "ring_seconds": 500, "record": "yes", "x": 1}},
        "extensions": {"101": {"display_name": "a\nb"}, "102": {"password": "p"}},
    })
    text = " | ".join(errors)
    for needle in ("unknown keys", "2 to 8 digits", "unknown fields", "name: 1 to 64", "members",
                   "ring_seconds", "record", "printable", "only display_name"):
        assert needle in text, needle
    assert validate({"ring_groups": {"600": {"name": "G", "members": ["101"]}}}) == []


@pytest.fixture
def db(tmp_path: Path) -> sqlite3.Connection:
    path = tmp_path / "a.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for n in ("101", "102", "103"):
        conn.execute("INSERT INTO extensions(number, display_name, ha1, realm) VALUES (?, ?, 'x', 'r')", (n, n))
    return conn


def test_apply_is_all_or_nothing(db: sqlite3.Connection) -> None:
    clock = ManualClock()
    good = {
        "ring_groups": {"600": {"name": "G", "members": ["102", "101"]}},
        "extensions": {"103": {"display_name": "C"}},
    }
    db.execute("BEGIN")
    _apply_in(db, good, clock)
    db.execute("COMMIT")
    assert snapshot(db)["ring_groups"]["600"]["members"] == ["102", "101"]
    before = snapshot(db)
    bad = {"ring_groups": {"600": {"name": "H", "members": ["102"]}, "601": {"name": "I", "members": ["999"]}}}
    db.execute("BEGIN")
    with pytest.raises(Refused, match="999"):
        _apply_in(db, bad, clock)
    db.execute("ROLLBACK")
    assert snapshot(db) == before
    db.execute("BEGIN")
    with pytest.raises(Refused, match="is an extension"):
        _apply_in(db, {"ring_groups": {"101": {"name": "X", "members": ["102"]}}}, clock)
    db.execute("ROLLBACK")


async def test_recording_metadata_tells_the_cloud_when_retention_removed_the_file(tmp_path: Path) -> None:
    ctl = await build_controller(Settings(data_dir=tmp_path / "data", demo=False), ManualClock())
    try:
        await ctl.db.execute(
            "INSERT INTO recordings(id, call_id, path, parties, started_at, duration_s, size_bytes, sha256,"
            " channels, expired_at, purged_at) VALUES (7, 'c7', 'recordings/c7.wav', '[\"101\",\"102\"]',"
            " '2025-01-01T00:00:00+00:00', 12.5, 200000, 'ab', 2, '2026-01-02T03:00:00+00:00',"
            " '2026-01-02T03:00:01+00:00')")
        await ctl.db.commit()
        meta = await CloudHooks(ctl).recording_metadata("7")
        assert meta["call_id"] == "c7" and meta["duration_s"] == 12.5
        assert meta["expired_at"] == "2026-01-02T03:00:00+00:00"
        assert meta["purged_at"] == "2026-01-02T03:00:01+00:00"
        with pytest.raises(KeyError):
            await CloudHooks(ctl).recording_metadata("8")
    finally:
        await ctl.db.close()
