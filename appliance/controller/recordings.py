"""Turn a worker's per-party mono recordings into one indexed stereo WAV; delete them past retention.

The worker records each party into its own mono file (aligned: started together).
Here they are merged with sox into one stereo file (caller left, other party right),
hashed and indexed. The mono files are removed only after the index row is committed,
so a crash in between loses nothing: `recover()` finds and finishes such leftovers.

`RetentionSweeper` deletes recording files past their retention (per queue, or the default),
never those on legal hold, and keeps every index row, marked: `expired_at` is committed (with
an audit row) before the file is unlinked, `purged_at` after. A crash between the two leaves a
row that already says "expired" and a pending deletion the next sweep finishes; never a row
that claims a file it does not have.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import sqlite3
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from appliance.domain import retention
from appliance.domain.clock import Clock, iso
from appliance.storage.calls import CallStore, RecordingRow

log = logging.getLogger(__name__)


def wav_seconds(path: Path) -> float:
    """Duration of a WAV file in seconds."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


async def merge_stereo(parts: list[Path], out: Path) -> None:
    """Merge mono parts into one file, one party per channel (sox -M)."""
    tmp = out.with_suffix(".tmp.wav")
    if len(parts) == 1:
        args = ["sox", str(parts[0]), "-b", "16", str(tmp)]
    else:
        args = ["sox", "-M", *map(str, parts), "-b", "16", str(tmp)]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"sox failed ({proc.returncode}): {err.decode(errors='replace')[-500:]}")
    tmp.replace(out)


class RecordingIndexer:
    """Merges, hashes and indexes finished recordings."""

    def __init__(self, data_dir: Path, store: CallStore) -> None:
        self.data_dir = data_dir
        self.store = store
        self.retention: RetentionSweeper | None = None  # set by wire_retention

    @staticmethod
    def note_started(base: Path, call_id: str, parties: list[str], started: datetime) -> None:
        """Write a sidecar before recording starts, so a crash before indexing is recoverable."""
        doc = {"call_id": call_id, "parties": parties, "started": started.isoformat()}
        tmp = base.with_name(base.name + ".json.tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        tmp.replace(base.with_name(base.name + ".json"))

    async def recover(self) -> int:
        """At start: merge and index recordings a crash left as mono parts; return how many."""
        done = 0
        for sidecar in sorted((self.data_dir / "recordings").glob("*/*/*/*.json")):
            base = sidecar.with_suffix("")
            try:
                doc = json.loads(sidecar.read_text(encoding="utf-8"))
                parts = sorted(base.parent.glob(base.name + "-[0-9].wav"))
                if await self.finish(
                    str(doc["call_id"]), list(doc["parties"]), parts, datetime.fromisoformat(doc["started"])
                ) is not None:
                    done += 1
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                log.error("cannot recover recording %s: %r", sidecar, exc)
        return done

    async def finish(
        self, call_id: str, parties: list[str], files: list[Path], started: datetime
    ) -> int | None:
        """Index the recording made of `files`; return its id (None if nothing usable)."""
        present = [f for f in files if f.exists() and f.stat().st_size > 44]
        sidecar = _stereo_name(files[0]).with_suffix(".json") if files else None
        if not present:
            log.warning("recording of %s has no audio files: %s", call_id, files)
            if sidecar is not None:
                sidecar.unlink(missing_ok=True)
            return None
        out = _stereo_name(present[0])
        await merge_stereo(present, out)
        rid = await self.store.index_recording(
            RecordingRow(
                call_id=call_id,
                path=str(out.relative_to(self.data_dir)),
                parties=parties[: len(present)],
                started_at=started,
                duration_s=wav_seconds(out),
                size_bytes=out.stat().st_size,
                sha256=await asyncio.to_thread(sha256_file, out),
                channels=len(present),
            )
        )
        for f in present:
            f.unlink(missing_ok=True)
        if sidecar is not None:
            sidecar.unlink(missing_ok=True)
        return rid


def _stereo_name(part: Path) -> Path:
    """`<base>-0.wav` -> `<base>.wav`."""
    stem = part.stem
    base = stem.rsplit("-", 1)[0] if stem[-2:-1] == "-" else stem
    return part.with_name(base + ".wav")


SWEEPER = "retention"  # the audit log's actor for the sweep


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did: rows newly marked expired, files deleted, files it could not delete."""

    expired: int
    purged: int
    failed: int


def load_policy(conn: sqlite3.Connection) -> retention.RetentionPolicy:
    """The retention table as the pure rule's policy."""
    days = {str(scope): int(d) for scope, d in conn.execute("SELECT scope, days FROM recording_retention")}
    default = days.pop(retention.DEFAULT_SCOPE, 365)
    return retention.RetentionPolicy(default, days)


class RetentionSweeper:
    """Deletes recording files past their retention; keeps and marks their index rows; audited."""

    def __init__(self, db_path: Path, data_dir: Path, clock: Clock, interval_s: float = 3600.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.db_path = db_path
        self.data_dir = data_dir.resolve()
        self.clock = clock
        self.interval_s = interval_s
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.last: SweepResult | None = None
        self.swept: asyncio.Queue[SweepResult] = asyncio.Queue(maxsize=100)  # each background round's result

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, isolation_level=None, timeout=10.0)
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _mark(self, conn: sqlite3.Connection, now: datetime) -> int:
        """Phase 1, one transaction: mark due rows expired, with one audit row each."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            policy = load_policy(conn)
            rows = conn.execute(
                "SELECT r.id, r.started_at, r.path, (SELECT group_concat(DISTINCT q.queue_id) FROM queue_events q"
                " WHERE q.call_id = r.call_id AND q.queue_id IS NOT NULL AND q.queue_id != '')"
                " FROM recordings r WHERE r.expired_at IS NULL AND r.legal_hold = 0").fetchall()
            facts = {int(r[0]): (retention.RecordingFacts(
                int(r[0]), datetime.fromisoformat(r[1]), tuple(str(r[3]).split(",")) if r[3] else ()), str(r[2]))
                for r in rows}
            due = retention.due(policy, (f for f, _ in facts.values()), now)
            for rec in due:
                conn.execute("UPDATE recordings SET expired_at = ? WHERE id = ? AND expired_at IS NULL",
                             (iso(now), rec.id))
                conn.execute(
                    "INSERT INTO audit_log(at, actor, action, target, detail, source) VALUES (?, ?, ?, ?, ?, ?)",
                    (iso(now), SWEEPER, "recording.expire", str(rec.id), json.dumps({
                        "days": policy.days_for(rec.queues), "queues": list(rec.queues),
                        "started_at": iso(rec.started_at), "path": facts[rec.id][1]}, sort_keys=True),
                     "controller"))
            conn.execute("COMMIT")
            return len(due)
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _purge(self, conn: sqlite3.Connection, now: datetime) -> tuple[int, int]:
        """Phase 2: unlink the files of expired rows not yet purged (a crash's leftovers too), then mark them."""
        pending = conn.execute("SELECT id, path FROM recordings WHERE expired_at IS NOT NULL AND purged_at IS NULL"
                               " AND legal_hold = 0 ORDER BY id").fetchall()
        done, failed = [], 0
        for rid, rel in pending:
            path = (self.data_dir / str(rel)).resolve()
            if not path.is_relative_to(self.data_dir):
                log.error("recording %s: path %r is outside the data directory; not deleted", rid, rel)
                failed += 1
                continue
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.error("recording %s: cannot delete %s: %s", rid, path, exc)
                failed += 1
                continue
            done.append(int(rid))
        if done:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("UPDATE recordings SET purged_at = ? WHERE id = ? AND purged_at IS NULL",
                             [(iso(now), rid) for rid in done])
            conn.execute("COMMIT")
        return len(done), failed

    def sweep_sync(self, now: datetime) -> SweepResult:
        """One sweep at `now` (blocking): mark, then delete files, then mark them purged."""
        conn = self._connect()
        try:
            expired = self._mark(conn, now)
            purged, failed = self._purge(conn, now)
        finally:
            conn.close()
        return SweepResult(expired, purged, failed)

    async def sweep(self) -> SweepResult:
        """One sweep now (off the event loop; one at a time)."""
        async with self._lock:
            result = await asyncio.to_thread(self.sweep_sync, self.clock.now())
        self.last = result
        if result.expired or result.purged or result.failed:
            log.info("retention: %d recordings expired, %d files deleted, %d could not be deleted",
                     result.expired, result.purged, result.failed)
        return result

    async def _run(self) -> None:
        while True:
            try:
                result = await self.sweep()
            except Exception:
                log.exception("retention sweep failed")
            else:
                with contextlib.suppress(asyncio.QueueFull):
                    self.swept.put_nowait(result)
            await self._sleep(self.interval_s)

    def start(self) -> None:
        """Sweep now, then every `interval_s`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="recording-retention")

    async def stop(self) -> None:
        """Stop sweeping."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def wire_retention(indexer: RecordingIndexer, db_path: Path, clock: Clock) -> RetentionSweeper:
    """Build the retention sweeper beside the indexer and start it (sweeps at start, then hourly)."""
    sweeper = RetentionSweeper(db_path, indexer.data_dir, clock)
    indexer.retention = sweeper
    sweeper.start()
    return sweeper
