"""Fixtures: a running appliance (real Kamailio + pjsua2 workers) with the demo queue 700
and a test queue 701 (agent 104 only, max wait 4 s, overflow to extension 105)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.storage.db import migrate_sync
from tests.support.appliance import Appliance, make_appliance

OVERFLOW_QUEUE = "701"


def preseed_overflow_queue(data_dir: Path) -> None:
    """Create queue 701 before the first start (its member extensions are seeded at start)."""
    db = data_dir / "appliance.db"
    migrate_sync(db)
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute(
                "INSERT INTO queues(number, name, strategy, wrap_up_s, ring_timeout_s, max_wait_s, on_timeout)"
                " VALUES (?, 'Overflow test', 'leastrecent', 1, 10, 4, 'extension:105')",
                (OVERFLOW_QUEUE,),
            )
            conn.execute(
                "INSERT INTO queue_members(queue, position, extension) VALUES (?, 0, '104')", (OVERFLOW_QUEUE,)
            )
    finally:
        conn.close()


def preseeded_box(tmp_path_factory: pytest.TempPathFactory, name: str, workers: int,
                  rows: list[tuple[str, tuple[object, ...]]]) -> Iterator[Appliance]:
    """A started appliance whose database got these rows (SQL, args) before its first start."""
    data_dir = Path(tmp_path_factory.mktemp(name)) / "data"
    data_dir.mkdir()
    db = data_dir / "appliance.db"
    migrate_sync(db)
    conn = sqlite3.connect(db)
    try:
        with conn:
            for sql, args in rows:
                conn.execute(sql, args)
    finally:
        conn.close()
    app = make_appliance(data_dir, workers=workers)
    app.start()
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    """One appliance for the module: 4 workers (a queue call holds 2 of a worker's 4 legs)."""
    data_dir = Path(tmp_path_factory.mktemp("acd")) / "data"
    data_dir.mkdir()
    preseed_overflow_queue(data_dir)
    app = make_appliance(data_dir, workers=4)
    app.start()
    try:
        yield app
    finally:
        app.stop()
