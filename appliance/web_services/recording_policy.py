"""Recording policy per queue: record on/off (the queue's own flag) and retention days; the sweep on demand."""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass

import aiosqlite

from appliance.controller.recordings import RetentionSweeper, SweepResult, load_policy
from appliance.domain.clock import Clock
from appliance.domain.retention import DEFAULT_SCOPE, RetentionError, RetentionPolicy
from appliance.web_services import audit
from appliance.web_services.audit import Actor
from appliance.web_services.errors import Conflict, Invalid, NotFound
from appliance.web_services.queue_admin import QueueAdmin
from appliance.web_services.tx import Writer


@dataclass(frozen=True)
class QueuePolicy:
    """One queue's recording policy."""

    number: str
    name: str
    record: bool
    days: int | None  # its own retention; None = the default
    effective_days: int


@dataclass(frozen=True)
class RecordingCounts:
    """The recordings index by retention state (rows are never deleted)."""

    kept: int  # file on disk, within retention
    held: int  # on legal hold (kept whatever the retention)
    pending: int  # marked expired, file deletion not finished yet
    expired: int  # file deleted, row kept


@dataclass(frozen=True)
class HeldRecording:
    """A recording on legal hold: kept whatever its retention."""

    id: int
    call_id: str
    started_at: str
    parties: str


@dataclass(frozen=True)
class PolicyView:
    """The whole recording policy as pages and the API show it."""

    default_days: int
    queues: list[QueuePolicy]
    counts: RecordingCounts
    last_sweep: SweepResult | None
    held: list[HeldRecording] = dataclasses.field(default_factory=list)


class RecordingPolicy:
    """Reads and changes the retention table and the queues' record flags (through the queue service)."""

    def __init__(self, db: aiosqlite.Connection, writer: Writer, clock: Clock, queues: QueueAdmin,
                 sweeper: RetentionSweeper | None) -> None:
        self._db = db
        self._writer = writer
        self._clock = clock
        self._queues = queues
        self._sweeper = sweeper

    async def _policy(self) -> RetentionPolicy:
        async with self._db.execute("SELECT scope, days FROM recording_retention") as cur:
            days = {str(scope): int(d) for scope, d in await cur.fetchall()}
        return RetentionPolicy(days.pop(DEFAULT_SCOPE, 365), days)

    async def view(self) -> PolicyView:
        """The default, every queue's flag and days, and counts of the index by state."""
        policy = await self._policy()
        queues = [QueuePolicy(q.number, q.name, q.record, policy.queue_days.get(q.number),
                              policy.days_for((q.number,))) for q in self._queues.queues()]
        async with self._db.execute(
            "SELECT sum(expired_at IS NULL AND legal_hold = 0), sum(expired_at IS NULL AND legal_hold = 1),"
            " sum(expired_at IS NOT NULL AND purged_at IS NULL), sum(purged_at IS NOT NULL) FROM recordings"
        ) as cur:
            row = await cur.fetchone()
        counts = RecordingCounts(*(int(v or 0) for v in (row or (0, 0, 0, 0))))
        async with self._db.execute("SELECT id, call_id, started_at, parties FROM recordings WHERE legal_hold = 1"
                                    " ORDER BY started_at DESC, id DESC LIMIT 200") as cur:
            held = [HeldRecording(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in await cur.fetchall()]
        return PolicyView(policy.default_days, queues, counts, self._sweeper.last if self._sweeper else None, held)

    async def set_retention(self, actor: Actor, default_days: int, queue_days: dict[str, int | None]) -> PolicyView:
        """Set the default and per-queue days (None: the queue follows the default); audited."""
        known = {q.number for q in self._queues.queues()}
        for number in queue_days:
            if number not in known:
                raise Invalid("queue_not_found", f"there is no queue {number}", field=f"queues.{number}")
        own = {n: d for n, d in queue_days.items() if d is not None}
        try:
            RetentionPolicy(default_days, own)
        except RetentionError as exc:
            raise Invalid(f"{exc.field.split('.')[0]}_invalid", exc.message, field=exc.field) from None

        def go(conn: sqlite3.Connection) -> None:
            before = load_policy(conn)
            conn.execute("INSERT INTO recording_retention(scope, days) VALUES (?, ?)"
                         " ON CONFLICT(scope) DO UPDATE SET days = excluded.days", (DEFAULT_SCOPE, default_days))
            for number, days in queue_days.items():
                if days is None:
                    conn.execute("DELETE FROM recording_retention WHERE scope = ?", (number,))
                else:
                    conn.execute("INSERT INTO recording_retention(scope, days) VALUES (?, ?)"
                                 " ON CONFLICT(scope) DO UPDATE SET days = excluded.days", (number, days))
            audit.record(conn, self._clock, actor, "recording_policy.update", "retention",
                         default_days=default_days, queues=queue_days,
                         before={"default_days": before.default_days, "queues": dict(before.queue_days)})

        await self._writer.run(go)
        return await self.view()

    async def set_record(self, actor: Actor, number: str, record: bool) -> PolicyView:
        """Switch a queue's recording on or off through the queue service (as PUT /api/v1/queues/{n})."""
        row = self._queues.queue(number)
        if row.record != record:
            await self._queues.replace(actor, dataclasses.replace(row, record=record))
        return await self.view()

    async def set_hold(self, actor: Actor, recording_id: int, hold: bool) -> PolicyView:
        """Put a recording on legal hold (kept whatever its retention) or release it; audited."""

        def go(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT expired_at FROM recordings WHERE id = ?", (recording_id,)).fetchone()
            if row is None:
                raise NotFound("recording_not_found", f"no recording {recording_id}", id=recording_id)
            if hold and row[0] is not None:
                raise Conflict("recording_expired", f"recording {recording_id} is past its retention and its file"
                               " is deleted; a hold cannot bring it back", id=recording_id)
            conn.execute("UPDATE recordings SET legal_hold = ? WHERE id = ?", (int(hold), recording_id))
            audit.record(conn, self._clock, actor, "recording.legal_hold", str(recording_id), hold=hold)

        await self._writer.run(go)
        return await self.view()

    async def sweep(self) -> SweepResult:
        """Run the retention sweep now."""
        if self._sweeper is None:
            raise NotFound("retention_not_running", "the retention sweep is not wired in this controller")
        return await self._sweeper.sweep()
