"""Queues and their members (configuration) and the queue event log (one writer: the queue service)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from appliance.acd.destination import Destination
from appliance.acd.events import AgentEvent, QueueEvent
from appliance.domain.clock import iso

AcdEvent = AgentEvent | QueueEvent


@dataclass(frozen=True)
class QueueRow:
    """One configured queue as stored."""

    number: str
    name: str
    members: tuple[str, ...]
    strategy: str = "leastrecent"
    wrap_up_s: float = 5.0
    ring_timeout_s: float = 15.0
    max_wait_s: float | None = None
    on_timeout: str = "hangup"
    language: str = "en"
    record: bool = True
    max_misses: int = 3


@dataclass(frozen=True)
class LoggedEvent:
    """A row of the queue event log."""

    id: int
    at: str
    mono: float
    type: str
    queue_id: str
    call_id: str
    agent_id: str
    data: dict[str, Any]


def event_fields(ev: AcdEvent) -> dict[str, Any]:
    """An event's fields as JSON-ready values (destinations as their text form)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(ev):
        value = getattr(ev, f.name)
        if isinstance(value, Destination):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


class QueueStore:
    """Writer of queues, queue_members and queue_events."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def create_queue(self, row: QueueRow) -> None:
        """Create a queue and its members in one transaction (bad input changes nothing)."""
        Destination.parse(row.on_timeout)  # raises DomainError on a bad destination
        await self._db.execute("BEGIN")
        try:
            await self._db.execute(
                "INSERT INTO queues(number, name, strategy, wrap_up_s, ring_timeout_s, max_wait_s,"
                " on_timeout, language, record, max_misses) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.number, row.name, row.strategy, row.wrap_up_s, row.ring_timeout_s, row.max_wait_s,
                    row.on_timeout, row.language, int(row.record), row.max_misses,
                ),
            )
            await self._db.executemany(
                "INSERT INTO queue_members(queue, position, extension) VALUES (?, ?, ?)",
                [(row.number, i, m) for i, m in enumerate(row.members)],
            )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise

    async def has_queues(self) -> bool:
        """True when at least one queue is configured."""
        async with self._db.execute("SELECT 1 FROM queues LIMIT 1") as cur:
            return await cur.fetchone() is not None

    async def load(self) -> list[QueueRow]:
        """Every queue with its members in order."""
        async with self._db.execute(
            "SELECT number, name, strategy, wrap_up_s, ring_timeout_s, max_wait_s, on_timeout,"
            " language, record, max_misses FROM queues ORDER BY number"
        ) as cur:
            rows = list(await cur.fetchall())
        out: list[QueueRow] = []
        for r in rows:
            async with self._db.execute(
                "SELECT extension FROM queue_members WHERE queue = ? ORDER BY position", (r[0],)
            ) as cur:
                members = tuple(str(m[0]) for m in await cur.fetchall())
            out.append(
                QueueRow(
                    number=str(r[0]), name=str(r[1]), members=members, strategy=str(r[2]),
                    wrap_up_s=float(r[3]), ring_timeout_s=float(r[4]),
                    max_wait_s=None if r[5] is None else float(r[5]), on_timeout=str(r[6]),
                    language=str(r[7]), record=bool(r[8]), max_misses=int(r[9]),
                )
            )
        return out

    async def append(self, events: Sequence[AcdEvent], now: datetime, mono_now: float) -> None:
        """Append events in order, in one durable transaction; wall time derived from each event's `at`."""
        if not events:
            return
        rows = []
        for ev in events:
            wall = now - timedelta(seconds=max(0.0, mono_now - ev.at))
            rows.append(
                (
                    iso(wall), ev.at, type(ev).__name__, getattr(ev, "queue_id", ""),
                    getattr(ev, "call_id", ""), getattr(ev, "agent_id", ""), json.dumps(event_fields(ev)),
                )
            )
        await self._db.execute("BEGIN")
        try:
            await self._db.executemany(
                "INSERT INTO queue_events(at, mono, type, queue_id, call_id, agent_id, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise

    async def last_agent_states(self) -> dict[str, tuple[str, str]]:
        """Each agent's state after its latest logged event: agent_id -> (state, pause reason)."""
        async with self._db.execute(
            "SELECT agent_id, json_extract(data, '$.new'), COALESCE(json_extract(data, '$.reason'), '')"
            " FROM queue_events WHERE id IN (SELECT MAX(id) FROM queue_events WHERE agent_id != ''"
            " AND json_extract(data, '$.new') IS NOT NULL GROUP BY agent_id)"
        ) as cur:
            return {str(r[0]): (str(r[1]), str(r[2])) for r in await cur.fetchall()}

    async def events(self, *, queue_id: str | None = None, call_id: str | None = None) -> list[LoggedEvent]:
        """The logged events in order, optionally for one queue or one call."""
        sql = "SELECT id, at, mono, type, queue_id, call_id, agent_id, data FROM queue_events"
        where, args = [], []
        if queue_id is not None:
            where.append("queue_id = ?")
            args.append(queue_id)
        if call_id is not None:
            where.append("call_id = ?")
            args.append(call_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        async with self._db.execute(sql + " ORDER BY id", args) as cur:
            rows = await cur.fetchall()
        return [
            LoggedEvent(int(r[0]), str(r[1]), float(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]), json.loads(r[7]))
            for r in rows
        ]
