"""Feed the cloud outbox from the appliance's own durable tables.

CDRs, alarms, queue events, agent state changes and supervisor events are first committed
to their tables (the truth on the box). The exporter copies each finished row into the outbox and marks it in
`sync_exports` in the same transaction, so every row reaches the outbox exactly once even
if the box dies between the two writes; on start it catches up on whatever a crash or a
disabled cloud link left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import aiosqlite

from appliance.sync.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportRule:
    """One source: a query yielding (key, type, row) not yet exported, oldest first."""

    stream: str
    sql: str  # must select `key`, `type` and the row's columns, skipping exported keys


RULES = (
    ExportRule(
        "cdr",
        "SELECT 'cdr:' || c.id AS key, 'cdr' AS type, c.* FROM cdrs c WHERE c.ended_at IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM sync_exports e WHERE e.stream = 'cdr' AND e.key = 'cdr:' || c.id)"
        " ORDER BY c.ended_at, c.id LIMIT ?",
    ),
    ExportRule(
        "alarm",
        "SELECT * FROM ("
        " SELECT 'alarm:' || a.id || ':raised' AS key, 'alarm_raised' AS type, a.*, a.raised_at AS at"
        "  FROM alarms a"
        " UNION ALL"
        " SELECT 'alarm:' || a.id || ':cleared', 'alarm_cleared', a.*, a.cleared_at"
        "  FROM alarms a WHERE a.cleared_at IS NOT NULL) x"
        " WHERE NOT EXISTS (SELECT 1 FROM sync_exports e WHERE e.stream = 'alarm' AND e.key = x.key)"
        " ORDER BY at LIMIT ?",
    ),
    ExportRule(
        "queue",
        "SELECT 'queue:' || q.id AS key, q.type AS type, q.* FROM queue_events q WHERE q.type NOT LIKE 'Agent%'"
        " AND NOT EXISTS (SELECT 1 FROM sync_exports e WHERE e.stream = 'queue' AND e.key = 'queue:' || q.id)"
        " ORDER BY q.id LIMIT ?",
    ),
    ExportRule(
        "agent",
        "SELECT 'agent:' || q.id AS key, q.type AS type, q.* FROM queue_events q WHERE q.type LIKE 'Agent%'"
        " AND NOT EXISTS (SELECT 1 FROM sync_exports e WHERE e.stream = 'agent' AND e.key = 'agent:' || q.id)"
        " ORDER BY q.id LIMIT ?",
    ),
    ExportRule(
        "service",
        "SELECT 'service:' || s.id AS key, 'service_' || s.event AS type, s.* FROM service_events s"
        " WHERE NOT EXISTS (SELECT 1 FROM sync_exports e WHERE e.stream = 'service'"
        " AND e.key = 'service:' || s.id) ORDER BY s.id LIMIT ?",
    ),
)


class Exporter:
    """Copies finished rows into the outbox; woken by `poke()` and every `interval_s`."""

    def __init__(self, db: aiosqlite.Connection, outbox: Outbox, interval_s: float = 5.0,
                 batch: int = 200) -> None:
        self._db = db
        self._outbox = outbox
        self._interval = interval_s
        self._batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Something was written: export soon."""
        self._wake.set()

    async def export_once(self) -> int:
        """Export every pending row now; return how many."""
        total = 0
        for rule in RULES:
            while True:
                async with self._db.execute(rule.sql, (self._batch,)) as cur:
                    rows = [dict(zip([d[0] for d in cur.description], r, strict=True)) for r in await cur.fetchall()]
                if not rows:
                    break
                events: list[tuple[str, dict[str, Any]]] = []
                marks: list[tuple[str, list[Any]]] = []
                for row in rows:
                    key, type_ = str(row.pop("key")), str(row.pop("type"))
                    if rule.stream == "alarm":
                        row.pop("at", None)  # the union's sort column, not a field
                    if isinstance(row.get("data"), str):  # queue events keep their fields as JSON
                        with contextlib.suppress(ValueError):
                            row["data"] = json.loads(row["data"])
                    events.append((type_, row))
                    marks.append(("INSERT INTO sync_exports(stream, key) VALUES (?, ?)", [rule.stream, key]))
                await self._outbox.append_many(rule.stream, events, also=marks)
                total += len(rows)
        return total

    async def run(self) -> None:
        """Export until cancelled."""
        while True:
            try:
                n = await self.export_once()
                if n:
                    log.debug("exported %d rows to the cloud outbox", n)
            except Exception:
                log.exception("cloud export failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)

    def start(self) -> None:
        """Run in the background."""
        self._task = asyncio.create_task(self.run(), name="cloud-exporter")

    async def stop(self) -> None:
        """Stop, after one last export."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.export_once()
