"""The audit log: configuration changes, logins and recording access, append-only."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

import aiosqlite

from appliance.domain.clock import Clock, iso


@dataclass(frozen=True)
class Actor:
    """Who does something, as the audit log names them."""

    username: str
    source: str = ""


@dataclass(frozen=True)
class AuditEntry:
    """One audit row."""

    id: int
    at: str
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    source: str


def record(
    conn: sqlite3.Connection, clock: Clock, actor: Actor, action: str, target: str = "", **detail: Any
) -> None:
    """Append an audit row inside the caller's transaction (the change and its record commit together)."""
    conn.execute(
        "INSERT INTO audit_log(at, actor, action, target, detail, source) VALUES (?, ?, ?, ?, ?, ?)",
        (iso(clock.now()), actor.username, action, target, json.dumps(detail, sort_keys=True), actor.source),
    )


async def entries(db: aiosqlite.Connection, limit: int = 200, action_prefix: str = "") -> list[AuditEntry]:
    """The newest audit rows first, optionally only actions starting with `action_prefix`."""
    like = action_prefix.replace("%", "").replace("_", "\\_") + "%"
    async with db.execute(
        "SELECT id, at, actor, action, target, detail, source FROM audit_log"
        " WHERE action LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT ?",
        (like, limit),
    ) as cur:
        rows = await cur.fetchall()
    return [AuditEntry(int(r[0]), r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]
