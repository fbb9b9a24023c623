"""Durable outbox in SQLite: events wait here until the broker acknowledged them.

`append` commits (synchronous=FULL, set by `open_db`) before it returns, so an event
handed to the outbox survives a crash or a power cut. Rows are deleted only by `remove`,
which the sync client calls after a successful PUBACK.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from appliance.sync.clock import Clock
from appliance.sync.envelope import Envelope
from appliance.sync.policy import Admission, Policies
from appliance.sync.topics import check_name
from appliance.sync.ulid import UlidGenerator

log = logging.getLogger(__name__)
MAX_DATA_BYTES = 64 * 1024
OUTBOX_FULL = "outbox_full"
OUTBOX_CLEARED = "outbox_cleared"


class OutboxError(ValueError):
    """An event the outbox refuses (bad stream, bad type, data not JSON or too large)."""


@dataclass(frozen=True)
class OutboxRow:
    """One pending event with its outbox position."""

    rowid: int
    stream: str
    envelope: Envelope
    attempts: int


class Outbox:
    """The per-box outbox; one instance is the only writer of its tables."""

    def __init__(
        self,
        conn: aiosqlite.Connection,
        node: str,
        session: str,
        clock: Clock,
        ids: UlidGenerator,
        policies: Policies | None = None,
    ) -> None:
        self._conn = conn
        self.node = node
        self.session = session
        self._clock = clock
        self._ids = ids
        self._policies = policies or Policies()
        self._lock = asyncio.Lock()
        self._seq = 0
        self._counts: dict[str, int] = {}
        self._listeners: list[Callable[[], None]] = []

    @classmethod
    async def open(
        cls,
        conn: aiosqlite.Connection,
        node: str,
        clock: Clock,
        ids: UlidGenerator,
        policies: Policies | None = None,
    ) -> Outbox:
        """Load the node's sequence and backlog counts; start a new session id."""
        box = cls(conn, node, ids.new(), clock, ids, policies)
        await conn.execute("INSERT OR IGNORE INTO sync_node(node, seq) VALUES (?, 0)", (node,))
        async with conn.execute("SELECT seq FROM sync_node WHERE node = ?", (node,)) as cur:
            row = await cur.fetchone()
        box._seq = int(row[0]) if row else 0
        async with conn.execute("SELECT stream, count(*) FROM sync_outbox GROUP BY stream") as cur:
            box._counts = {r[0]: int(r[1]) async for r in cur}
        await box.unpark()
        return box

    @property
    def seq(self) -> int:
        """The last sequence number given to a durable event."""
        return self._seq

    def backlog(self) -> dict[str, int]:
        """Pending rows per stream."""
        return {k: v for k, v in self._counts.items() if v}

    def backlog_total(self) -> int:
        """Pending rows over all streams."""
        return sum(self._counts.values())

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` (on the loop) after every append, e.g. to wake the sender."""
        self._listeners.append(listener)

    def envelope(self, type_: str, data: dict[str, Any]) -> Envelope:
        """Build a non-outbox envelope (birth, state, reports) stamped with the watermark seq."""
        return Envelope(type_, self._ids.new(), self.node, self.session, self._seq,
                        self._clock.now(), data)

    async def append(self, stream: str, type_: str, data: dict[str, Any]) -> Envelope:
        """Add one event; it is committed to disk before this returns."""
        [env] = await self.append_many(stream, [(type_, data)])
        return env

    async def append_many(
        self, stream: str, events: Sequence[tuple[str, dict[str, Any]]],
        also: Sequence[tuple[str, Sequence[Any]]] = (),
    ) -> list[Envelope]:
        """Add several events of one stream in one transaction (all or none); `also` are
        statements run in that same transaction (an exporter marks its rows exported)."""
        check = _checked(stream, events)
        # Shielded: a cancelled caller never interrupts a transaction half way.
        out = await asyncio.shield(self._append_tx(stream, check, also))
        for listener in self._listeners:
            listener()
        return out

    async def _append_tx(
        self, stream: str, check: list[tuple[str, str]], also: Sequence[tuple[str, Sequence[Any]]] = ()
    ) -> list[Envelope]:
        out: list[Envelope] = []
        async with self._lock:
            seq_before = self._seq
            counts_before = dict(self._counts)
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                for type_, blob in check:
                    out.append(await self._insert(stream, type_, blob))
                for sql, params in also:
                    await self._conn.execute(sql, tuple(params))
                await self._conn.execute(
                    "UPDATE sync_node SET seq = ? WHERE node = ?", (self._seq, self.node)
                )
                await self._conn.execute("COMMIT")
            except BaseException:
                await self._conn.execute("ROLLBACK")
                self._seq, self._counts = seq_before, counts_before
                raise
        return out

    async def _insert(self, stream: str, type_: str, blob: str) -> Envelope:
        admission: Admission = self._policies.admit(stream, self._counts.get(stream, 0))
        if admission.drop_oldest:
            await self._conn.execute(
                "DELETE FROM sync_outbox WHERE rowid IN (SELECT rowid FROM sync_outbox"
                " WHERE stream = ? ORDER BY rowid LIMIT ?)",
                (stream, admission.drop_oldest),
            )
            self._counts[stream] = self._counts.get(stream, 0) - admission.drop_oldest
        if admission.raise_alarm:
            bound = self._policies.for_stream(stream).bound
            log.warning("outbox stream %s reached its bound %d: keeping events", stream, bound)
            alarm = {"alarm": OUTBOX_FULL, "stream": stream, "bound": bound,
                     "backlog": self._counts.get(stream, 0), "severity": "major"}
            await self._insert_row("alarm", "alarm", json.dumps(alarm), durable=True)
        durable = self._policies.for_stream(stream).durable
        return await self._insert_row(stream, type_, blob, durable=durable)

    async def _insert_row(self, stream: str, type_: str, blob: str, *, durable: bool) -> Envelope:
        if durable:
            self._seq += 1
        env = Envelope(type_, self._ids.new(), self.node, self.session, self._seq,
                       self._clock.now(), json.loads(blob))
        await self._conn.execute(
            "INSERT INTO sync_outbox(stream, type, id, seq, session, ts, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (stream, env.type, env.id, env.seq, env.session, env.ts, blob),
        )
        self._counts[stream] = self._counts.get(stream, 0) + 1
        return env

    async def pending(self, after_rowid: int, limit: int) -> list[OutboxRow]:
        """Return up to `limit` rows after `after_rowid`, oldest first."""
        async with self._conn.execute(
            "SELECT rowid, stream, type, id, seq, session, ts, data, attempts FROM sync_outbox"
            " WHERE rowid > ? AND last_error IS NULL ORDER BY rowid LIMIT ?",
            (after_rowid, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [
            OutboxRow(
                int(r[0]), r[1],
                Envelope(r[2], r[3], self.node, r[5], int(r[4]), float(r[6]), json.loads(r[7])),
                int(r[8]),
            )
            for r in rows
        ]

    async def remove(self, rows: Iterable[tuple[int, str]]) -> int:
        """Delete acknowledged rows given as (rowid, stream); return how many were deleted."""
        batch = list(rows)
        if not batch:
            return 0
        deleted, cleared = await asyncio.shield(self._remove_tx(batch))
        for stream in cleared:
            await self.append("alarm", "alarm", {"alarm": OUTBOX_CLEARED, "stream": stream,
                                                 "severity": "cleared"})
        return deleted

    async def _remove_tx(self, batch: list[tuple[int, str]]) -> tuple[int, list[str]]:
        cleared: list[str] = []
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                deleted = 0
                ids = [rowid for rowid, _ in batch]
                for i in range(0, len(ids), 500):
                    chunk = ids[i:i + 500]
                    marks = ",".join("?" * len(chunk))
                    async with self._conn.execute(
                        f"DELETE FROM sync_outbox WHERE rowid IN ({marks}) RETURNING stream", chunk
                    ) as cur:
                        async for (stream,) in cur:
                            deleted += 1
                            self._counts[stream] = self._counts.get(stream, 0) - 1
                for stream in {s for _, s in batch}:
                    left = self._counts.get(stream, 0)
                    if self._policies.after_removal(stream, left).clear_alarm:
                        cleared.append(stream)
                await self._conn.execute("COMMIT")
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
        return deleted, cleared

    async def first_pending_seq(self) -> int:
        """Lowest durable seq still waiting here (seq + 1 when none): older ones were delivered."""
        skip = [s for s in self._counts if not self._policies.for_stream(s).durable]
        marks = ",".join("?" * len(skip))
        sql = "SELECT min(seq) FROM sync_outbox"
        if skip:
            sql += f" WHERE stream NOT IN ({marks})"
        async with self._conn.execute(sql, skip) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else self._seq + 1

    async def unpark(self) -> int:
        """Make refused rows eligible for sending again (process start, resync command)."""
        async with self._lock:
            cur = await self._conn.execute(
                "UPDATE sync_outbox SET last_error = NULL WHERE last_error IS NOT NULL")
            return int(cur.rowcount)

    async def parked(self) -> int:
        """Rows the broker refused, kept but not resent until `unpark`."""
        async with self._conn.execute(
            "SELECT count(*) FROM sync_outbox WHERE last_error IS NOT NULL") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def note_failure(self, rowid: int, reason: str) -> None:
        """Park a row the broker refused: kept, not resent until `unpark` (no reconnect storm)."""
        async with self._lock:
            await self._conn.execute(
                "UPDATE sync_outbox SET attempts = attempts + 1, last_error = ? WHERE rowid = ?",
                (reason[:200], rowid),
            )


def _checked(stream: str, events: Sequence[tuple[str, dict[str, Any]]]) -> list[tuple[str, str]]:
    """Validate a batch before touching the database; return (type, JSON text) pairs."""
    try:
        check_name(stream, "stream")
    except ValueError as exc:
        raise OutboxError(str(exc)) from None
    out: list[tuple[str, str]] = []
    for type_, data in events:
        if not isinstance(type_, str) or not 0 < len(type_) <= 64:
            raise OutboxError(f"event type must be a 1-64 character string, got {type_!r}")
        if not isinstance(data, dict):
            raise OutboxError("event data must be a dict")
        try:
            blob = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise OutboxError(f"event data is not JSON-serialisable: {exc}") from None
        if len(blob.encode()) > MAX_DATA_BYTES:
            raise OutboxError(f"event data too large: {len(blob)} > {MAX_DATA_BYTES} bytes")
        out.append((type_, blob))
    return out
