"""Queues and their members (configuration) and the queue event log (one writer: the queue service)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
    position_every_s: float | None = None  # say position (and wait) every N seconds
    periodic_prompt: str | None = None
    periodic_every_s: float | None = None
    default_aht_s: float = 180.0  # prior handle time for the wait estimate
    callback_after_s: float | None = None  # offer "press 1 for a callback" from this wait on
    callback_max_attempts: int = 3
    callback_retry_s: float = 300.0
    max_len: int | None = None
    on_full: str = "hangup"
    join_empty: str = "never"  # never | no_agent_logged_in | no_agent_ready
    leave_when_empty: str = "never"
    on_empty: str = "hangup"
    survey: bool = False  # post-call survey: rate 1-5 by DTMF after the agent hangs up
    skills: tuple[str, ...] = ()  # skills every caller of this queue needs
    tiers: tuple[tuple[float, int], ...] = ((0.0, 1),)  # (after_s, min_level), widening with the wait
    penalties: Mapping[str, int] = field(default_factory=dict)  # member -> penalty (0 when absent)
    member_skills: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # per-queue level overrides


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


_MEMBER_FIELDS = ("members", "penalties", "member_skills")  # stored in queue_members, not queues


def row_values(row: QueueRow) -> dict[str, Any]:
    """A queue's columns and values as stored (members go to queue_members)."""
    values = {f.name: getattr(row, f.name) for f in dataclasses.fields(row) if f.name not in _MEMBER_FIELDS}
    values["record"], values["survey"] = int(row.record), int(row.survey)
    values["skills"] = json.dumps(list(row.skills))
    values["tiers"] = json.dumps([[t[0], t[1]] for t in row.tiers])
    return values


def member_values(row: QueueRow) -> list[tuple[str, int, str, int, str]]:
    """queue_members rows: (queue, position, extension, penalty, skills JSON)."""
    return [
        (row.number, i, m, row.penalties.get(m, 0), json.dumps(dict(row.member_skills.get(m, {}))))
        for i, m in enumerate(row.members)
    ]


INSERT_MEMBERS = "INSERT INTO queue_members(queue, position, extension, penalty, skills) VALUES (?, ?, ?, ?, ?)"


def _from_columns(values: dict[str, Any], members: list[tuple[str, int, str]]) -> QueueRow:
    values["record"], values["survey"] = bool(values["record"]), bool(values["survey"])
    values["skills"] = tuple(str(s) for s in json.loads(values["skills"]))
    values["tiers"] = tuple((float(a), int(b)) for a, b in json.loads(values["tiers"]))
    overrides = {m: {str(k): int(v) for k, v in json.loads(sk).items()} for m, _, sk in members}
    return QueueRow(
        members=tuple(m for m, _, _ in members),
        penalties={m: int(p) for m, p, _ in members if p},
        member_skills={m: o for m, o in overrides.items() if o},
        **values,
    )


def queue_columns() -> list[str]:
    """The queues table's columns that make a QueueRow (number first)."""
    return [f.name for f in dataclasses.fields(QueueRow) if f.name not in _MEMBER_FIELDS]


class QueueStore:
    """Writer of queues, queue_members and queue_events."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def create_queue(self, row: QueueRow) -> None:
        """Create a queue and its members in one transaction (bad input changes nothing)."""
        for dest in (row.on_timeout, row.on_full, row.on_empty):
            Destination.parse(dest)  # raises DomainError on a bad destination
        values = row_values(row)
        await self._db.execute("BEGIN")
        try:
            await self._db.execute(
                f"INSERT INTO queues({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                tuple(values.values()),
            )
            await self._db.executemany(INSERT_MEMBERS, member_values(row))
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
        names = queue_columns()
        async with self._db.execute(f"SELECT {', '.join(names)} FROM queues ORDER BY number") as cur:
            rows = list(await cur.fetchall())
        out: list[QueueRow] = []
        for r in rows:
            async with self._db.execute(
                "SELECT extension, penalty, skills FROM queue_members WHERE queue = ? ORDER BY position", (r[0],)
            ) as cur:
                members = [(str(m[0]), int(m[1]), str(m[2])) for m in await cur.fetchall()]
            out.append(_from_columns(dict(zip(names, r, strict=True)), members))
        return out

    async def agent_skills(self) -> dict[str, dict[str, int]]:
        """Every agent's own skills: extension -> {skill: level}."""
        out: dict[str, dict[str, int]] = {}
        sql = "SELECT extension, skill, level FROM agent_skills ORDER BY extension, skill"
        async with self._db.execute(sql) as cur:
            for ext, skill, level in await cur.fetchall():
                out.setdefault(str(ext), {})[str(skill)] = int(level)
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
