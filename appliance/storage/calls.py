"""CDRs, the recordings index and alarms. Every write is committed durably before it returns."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from appliance.domain.clock import iso


@dataclass(frozen=True)
class RecordingRow:
    """One indexed recording."""

    call_id: str
    path: str
    parties: list[str]
    started_at: datetime
    duration_s: float
    size_bytes: int
    sha256: str
    channels: int


class CallStore:
    """Writer of cdrs, recordings and alarms (the controller is the only writer)."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self.listeners: list[Callable[[], None]] = []  # told after every durable write

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    async def cdr_open(
        self, call_id: str, kind: str, caller: str, callee: str, started: datetime, worker: str | None = None
    ) -> None:
        """Record a call attempt as soon as it is known."""
        await self._db.execute(
            "INSERT OR IGNORE INTO cdrs(call_id, kind, caller, callee, started_at, worker)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (call_id, kind, caller, callee, iso(started), worker),
        )

    async def cdr_answered(self, call_id: str, at: datetime, answered_by: str | None = None) -> None:
        """Mark the call answered (first answer wins)."""
        await self._db.execute(
            "UPDATE cdrs SET answered_at = COALESCE(answered_at, ?),"
            " answered_by = COALESCE(answered_by, ?) WHERE call_id = ?",
            (iso(at), answered_by, call_id),
        )

    async def cdr_close(
        self, call_id: str, at: datetime, sip_code: int, cause: str, duration_s: float | None = None
    ) -> bool:
        """Close an open CDR with its SIP code and cause; False if none was open."""
        if duration_s is None:
            duration_expr = (
                "CASE WHEN answered_at IS NULL THEN 0 ELSE"
                " (julianday(?) - julianday(answered_at)) * 86400.0 END"
            )
            params: tuple[object, ...] = (iso(at), iso(at), sip_code, cause, call_id)
        else:
            duration_expr = "?"
            params = (iso(at), round(duration_s, 3), sip_code, cause, call_id)
        cur = await self._db.execute(
            f"UPDATE cdrs SET ended_at = ?, duration_s = {duration_expr}, sip_code = ?, cause = ?"
            " WHERE call_id = ? AND ended_at IS NULL",
            params,
        )
        self._changed()
        return cur.rowcount == 1

    async def cdr_set_worker(self, call_id: str, worker: str) -> None:
        """Note which worker carried the call."""
        await self._db.execute("UPDATE cdrs SET worker = ? WHERE call_id = ?", (worker, call_id))

    async def close_interrupted(self, at: datetime) -> int:
        """At start: close CDRs left open by a crash or power cut."""
        cur = await self._db.execute(
            "UPDATE cdrs SET ended_at = ?, sip_code = COALESCE(sip_code, 500),"
            " cause = 'controller_restart' WHERE ended_at IS NULL",
            (iso(at),),
        )
        return cur.rowcount

    async def index_recording(self, row: RecordingRow) -> int:
        """Add a recording to the index and link it to its CDR."""
        cur = await self._db.execute(
            "INSERT INTO recordings(call_id, path, parties, started_at, duration_s, size_bytes,"
            " sha256, channels) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.call_id, row.path, json.dumps(row.parties), iso(row.started_at),
                round(row.duration_s, 3), row.size_bytes, row.sha256, row.channels,
            ),
        )
        rid = int(cur.lastrowid or 0)
        await self._db.execute("UPDATE cdrs SET recording_id = ? WHERE call_id = ?", (rid, row.call_id))
        return rid

    async def raise_alarm(self, at: datetime, severity: str, code: str, message: str) -> None:
        """Raise an alarm unless the same code is already open."""
        async with self._db.execute(
            "SELECT 1 FROM alarms WHERE code = ? AND cleared_at IS NULL", (code,)
        ) as cur:
            if await cur.fetchone():
                return
        await self._db.execute(
            "INSERT INTO alarms(raised_at, severity, code, message) VALUES (?, ?, ?, ?)",
            (iso(at), severity, code, message),
        )
        self._changed()

    async def clear_alarm(self, at: datetime, code: str) -> None:
        """Clear an open alarm."""
        cur = await self._db.execute(
            "UPDATE alarms SET cleared_at = ? WHERE code = ? AND cleared_at IS NULL", (iso(at), code)
        )
        if cur.rowcount:
            self._changed()
