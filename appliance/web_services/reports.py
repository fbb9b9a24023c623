"""Read side for the pages and the API: CDRs (with CSV), recordings, alarms, service events."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from appliance.domain.clock import Clock
from appliance.web_services import audit
from appliance.web_services.audit import Actor
from appliance.web_services.errors import Gone, Invalid, NotFound
from appliance.web_services.tx import Writer

MAX_PAGE = 1000
CDR_COLUMNS = ("id", "call_id", "kind", "caller", "callee", "answered_by", "worker", "started_at",
               "answered_at", "ended_at", "duration_s", "sip_code", "cause", "recording_id")


@dataclass(frozen=True)
class CdrFilter:
    """Which CDRs: started on or after `since`, before the end of `until` (dates, UTC), a number, a cause."""

    since: date | None = None
    until: date | None = None
    number: str = ""
    cause: str = ""

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition and its parameters."""
        if self.since and self.until and self.since > self.until:
            raise Invalid("date_range_invalid", "'since' is after 'until'", field="since")
        sql, args = ["1=1"], []
        if self.since:
            sql.append("started_at >= ?")
            args.append(self.since.isoformat())
        if self.until:
            sql.append("started_at < ?")
            args.append((self.until + timedelta(days=1)).isoformat())
        if self.number:
            sql.append("(caller = ? OR callee = ? OR answered_by = ?)")
            args += [self.number] * 3
        if self.cause:
            sql.append("cause = ?")
            args.append(self.cause)
        return " AND ".join(sql), args


@dataclass(frozen=True)
class Recording:
    """An indexed recording (its file path stays on the box)."""

    id: int
    call_id: str
    parties: list[str]
    started_at: str
    duration_s: float
    size_bytes: int
    sha256: str
    channels: int
    expired_at: str | None = None  # the retention sweep removed (or is removing) the file
    legal_hold: bool = False


def _recording(r: Any) -> Recording:
    return Recording(int(r[0]), r[1], json.loads(r[2]), r[3], float(r[4]), int(r[5]), r[6], int(r[7]), r[8],
                     bool(r[9]))


_RECORDING_COLUMNS = ("id, call_id, parties, started_at, duration_s, size_bytes, sha256, channels, expired_at,"
                      " legal_hold")


class Reports:
    """Queries over the foundation's tables, and audited access to recording files."""

    def __init__(self, db: aiosqlite.Connection, writer: Writer, clock: Clock, data_dir: Path) -> None:
        self._db = db
        self._writer = writer
        self._clock = clock
        self._data_dir = data_dir.resolve()

    async def cdrs(self, flt: CdrFilter, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """CDRs matching the filter, newest first."""
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise Invalid("page_invalid", f"limit is 1-{MAX_PAGE}, offset at least 0", field="limit")
        where, args = flt.where()
        async with self._db.execute(
            f"SELECT {', '.join(CDR_COLUMNS)} FROM cdrs WHERE {where} ORDER BY started_at DESC, id DESC"
            " LIMIT ? OFFSET ?", (*args, limit, offset),
        ) as cur:
            return [dict(zip(CDR_COLUMNS, tuple(r), strict=True)) for r in await cur.fetchall()]

    async def cdrs_csv(self, flt: CdrFilter) -> AsyncIterator[str]:
        """CSV lines (header first) of every matching CDR, oldest first, streamed in chunks."""
        where, args = flt.where()
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CDR_COLUMNS)
        last = 0
        while True:
            async with self._db.execute(
                f"SELECT {', '.join(CDR_COLUMNS)} FROM cdrs WHERE {where} AND id > ? ORDER BY id LIMIT 500",
                (*args, last),
            ) as cur:
                rows = list(await cur.fetchall())
            for r in rows:
                writer.writerow(["" if v is None else v for v in tuple(r)])
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            if len(rows) < 500:
                return
            last = int(rows[-1][0])

    async def causes(self) -> list[str]:
        """Every cause seen in the CDRs (for the filter's choices)."""
        async with self._db.execute("SELECT DISTINCT cause FROM cdrs WHERE cause != '' ORDER BY cause") as cur:
            return [str(r[0]) for r in await cur.fetchall()]

    async def recordings(self, since: date | None = None, until: date | None = None, number: str = "",
                         limit: int = 100, *, queue: str = "", agent: str = "", min_s: float | None = None,
                         max_s: float | None = None, disposition: str = "") -> list[Recording]:
        """Indexed recordings, newest first; `number` matches a party, `agent` the answering extension.

        `queue` and `agent` come from the queue event log and the CDR of the recording's call,
        `disposition` from the agents' wrap-up codes.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid("page_invalid", f"limit is 1-{MAX_PAGE}", field="limit")
        if since and until and since > until:
            raise Invalid("date_range_invalid", "'since' is after 'until'", field="since")
        if min_s is not None and max_s is not None and min_s > max_s:
            raise Invalid("duration_range_invalid", "the shortest duration is above the longest", field="min_s")
        sql, args = ["1=1"], list[Any]()
        if since:
            sql.append("r.started_at >= ?")
            args.append(since.isoformat())
        if until:
            sql.append("r.started_at < ?")
            args.append((until + timedelta(days=1)).isoformat())
        if number:
            sql.append("EXISTS (SELECT 1 FROM json_each(r.parties) WHERE value = ?)")
            args.append(number)
        if queue:
            sql.append("EXISTS (SELECT 1 FROM queue_events q WHERE q.call_id = r.call_id AND q.queue_id = ?)")
            args.append(queue)
        if agent:
            sql.append("(EXISTS (SELECT 1 FROM cdrs c WHERE c.call_id = r.call_id AND c.answered_by = ?)"
                       " OR EXISTS (SELECT 1 FROM queue_events q WHERE q.call_id = r.call_id"
                       " AND q.type = 'AgentAnswered' AND q.agent_id = ?))")
            args += [agent, agent]
        if min_s is not None:
            sql.append("r.duration_s >= ?")
            args.append(min_s)
        if max_s is not None:
            sql.append("r.duration_s <= ?")
            args.append(max_s)
        if disposition:
            sql.append("EXISTS (SELECT 1 FROM desk_dispositions d WHERE d.call_id = r.call_id AND d.code = ?)")
            args.append(disposition)
        async with self._db.execute(
            f"SELECT {_RECORDING_COLUMNS} FROM recordings r"
            f" WHERE {' AND '.join(sql)} ORDER BY r.started_at DESC, r.id DESC LIMIT ?", (*args, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [_recording(r) for r in rows]

    async def recording_file(self, actor: Actor, recording_id: int, action: str,
                             audited: bool = True) -> tuple[Recording, Path]:
        """The file of a recording, by id only (never a client path); the access is audited first.

        `audited=False` is for the follow-up range requests of one playback (one row per playback).
        """
        async with self._db.execute(
            f"SELECT {_RECORDING_COLUMNS}, path FROM recordings WHERE id = ?", (recording_id,),
        ) as cur:
            r = await cur.fetchone()
        if r is None:
            raise NotFound("recording_not_found", f"no recording {recording_id}", id=recording_id)
        if r[8] is not None:
            raise Gone("recording_expired", f"recording {recording_id} was removed by the retention policy on"
                       f" {str(r[8])[:10]}", id=recording_id, expired_at=r[8])
        path = (self._data_dir / str(r[10])).resolve()
        if not path.is_relative_to(self._data_dir) or not path.is_file():
            raise NotFound("recording_file_missing", f"the file of recording {recording_id} is missing",
                           id=recording_id)
        rec = _recording(r)

        def go(conn: sqlite3.Connection) -> None:
            audit.record(conn, self._clock, actor, f"recording.{action}", str(recording_id), call_id=rec.call_id)

        if audited:
            await self._writer.run(go)
        return rec, path

    async def alarms(self, limit: int = 200) -> list[dict[str, Any]]:
        """Open alarms first, then the newest cleared ones."""
        async with self._db.execute(
            "SELECT id, raised_at, cleared_at, severity, code, message FROM alarms"
            " ORDER BY cleared_at IS NOT NULL, raised_at DESC LIMIT ?", (limit,),
        ) as cur:
            cols = ("id", "raised_at", "cleared_at", "severity", "code", "message")
            return [dict(zip(cols, tuple(r), strict=True)) for r in await cur.fetchall()]

    async def open_alarm_count(self) -> int:
        """How many alarms are open."""
        async with self._db.execute("SELECT count(*) FROM alarms WHERE cleared_at IS NULL") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def service_events(self, limit: int = 200) -> list[dict[str, Any]]:
        """The supervisor's newest service events."""
        async with self._db.execute(
            "SELECT id, at, service, event, detail FROM service_events ORDER BY id DESC LIMIT ?", (limit,),
        ) as cur:
            cols = ("id", "at", "service", "event", "detail")
            return [dict(zip(cols, tuple(r), strict=True)) for r in await cur.fetchall()]

