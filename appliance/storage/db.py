"""Open the appliance database and bring it to the newest schema.

Migrations are plain SQL files `NNNN_name.sql` in `migrations/`, applied once each in
number order inside one transaction per file; `schema_migrations` remembers which ran.
Ranges are reserved per area so parallel work does not collide:
0001-0019 foundation, 0020-0029 cloud sync, 0030-0039 provisioning,
0040-0049 modem and SMS, 0050-0069 contact-center core, 0070-0089 web,
0090-0099 trunks and routes.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import aiosqlite

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    """One numbered schema step."""

    number: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """Return the packaged migrations in number order; duplicate numbers are an error."""
    found: dict[int, Migration] = {}
    for entry in resources.files("appliance.storage.migrations").iterdir():
        m = _NAME.match(entry.name)
        if not m:
            continue
        number = int(m.group(1))
        if number in found:
            raise RuntimeError(f"two migrations numbered {number}: {found[number].name}, {entry.name}")
        found[number] = Migration(number, entry.name, entry.read_text(encoding="utf-8"))
    return [found[n] for n in sorted(found)]


def _apply(conn: sqlite3.Connection, migrations: list[Migration]) -> list[int]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " number INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
    )
    done = {row[0] for row in conn.execute("SELECT number FROM schema_migrations")}
    applied: list[int] = []
    for mig in migrations:
        if mig.number in done:
            continue
        # executescript commits first; wrap each file in its own explicit transaction.
        conn.executescript(
            "BEGIN IMMEDIATE;\n"
            + mig.sql
            + f"\n;INSERT INTO schema_migrations(number, name) VALUES ({mig.number}, '{mig.name}');\nCOMMIT;"
        )
        applied.append(mig.number)
    return applied


def migrate_sync(path: Path) -> list[int]:
    """Apply pending migrations to the database at `path` (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        return _apply(conn, load_migrations())
    finally:
        conn.close()


async def open_db(path: Path, *, migrate: bool = True) -> aiosqlite.Connection:
    """Open the database in WAL mode with synchronous=FULL (rows survive a power cut)."""
    if migrate:
        migrate_sync(path)
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=FULL")
    await conn.execute("PRAGMA foreign_keys=ON")
    await conn.execute("PRAGMA busy_timeout=5000")
    conn.row_factory = aiosqlite.Row
    return conn
