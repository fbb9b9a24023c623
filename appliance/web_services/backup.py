"""Configuration backup (a checksummed archive) and restore (validated, dry run first, all or nothing).

Which tables are configuration is discovered from the schema: every table except the call
data, logs and per-box state named in `EXCLUDED`. A restore applies the archive's rows in
one transaction (rows removed, changed, added, keyed by primary key) and checks foreign keys
before committing; a dry run is the very same transaction, rolled back, so what it reports
is exactly what a restore would do.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import sqlite3
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from appliance.domain.clock import Clock, iso
from appliance.web_services import audit
from appliance.web_services.audit import Actor
from appliance.web_services.errors import Invalid
from appliance.web_services.tx import Writer

MAGIC = b"EDGE-APPLIANCE-BACKUP 1\n"
FORMAT = "edge-appliance-config"
MAX_ARCHIVE_BYTES = 32 * 1024 * 1024
MAX_PAYLOAD_BYTES = 256 * 1024 * 1024

# Not configuration: call data, logs, sessions, the cloud outbox and this box's identity.
EXCLUDED: dict[str, str] = {
    "schema_migrations": "schema bookkeeping (compared, not copied)",
    "sqlite_sequence": "SQLite internal",
    "cdrs": "call data", "recordings": "call data", "queue_events": "call data",
    "voicemails": "call data", "sms_conversations": "call data", "sms_messages": "call data",
    "sms_blocklist": "refers to SMS messages (call data)",
    "desk_dispositions": "call data",
    "alarms": "log", "service_events": "log", "audit_log": "log", "modem_events": "log",
    "web_sessions": "logins of this box",
    "sync_outbox": "cloud outbox of this box", "sync_exports": "cloud outbox of this box",
    "sync_node": "this box's cloud identity and sequence", "sync_config": "the cloud re-sends its configuration",
    "prov_sip_secrets": "sealed with this box's own key",
    "custom_prompts": "audio files are not in the archive",
}


def config_tables(conn: sqlite3.Connection) -> list[str]:
    """Every configuration table in this database, parents before children (foreign keys)."""
    names = [str(r[0]) for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    tables = [n for n in names if n not in EXCLUDED]
    parents = {t: {str(r[2]) for r in conn.execute(f'PRAGMA foreign_key_list("{t}")')} & set(tables) - {t}
               for t in tables}
    ordered: list[str] = []
    while len(ordered) < len(tables):
        ready = [t for t in tables if t not in ordered and parents[t] <= set(ordered)]
        if not ready:  # a foreign-key cycle: keep name order for the rest (foreign keys are deferred)
            ready = [t for t in tables if t not in ordered]
        ordered += ready
    return ordered


def _columns(conn: sqlite3.Connection, table: str) -> tuple[list[str], list[str]]:
    info = list(conn.execute(f'PRAGMA table_info("{table}")'))
    cols = [str(r[1]) for r in info]
    pk = [str(r[1]) for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
    return cols, pk


def _referenced(conn: sqlite3.Connection) -> set[str]:
    """Tables some table (configuration or not) refers to by a foreign key."""
    names = [str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {str(fk[2]) for n in names for fk in conn.execute(f'PRAGMA foreign_key_list("{n}")')}


def _enc(v: Any) -> Any:
    return {"$b64": base64.b64encode(v).decode()} if isinstance(v, bytes) else v


def _dec(v: Any) -> Any:
    if isinstance(v, dict):
        if set(v) != {"$b64"}:
            raise Invalid("backup_corrupt", "a value in the archive is not a plain value")
        return base64.b64decode(v["$b64"])
    if isinstance(v, list):
        raise Invalid("backup_corrupt", "a value in the archive is not a plain value")
    return v


def migrations(conn: sqlite3.Connection) -> list[int]:
    """The schema migrations applied to this database."""
    return sorted(int(r[0]) for r in conn.execute("SELECT number FROM schema_migrations"))


def dump(conn: sqlite3.Connection, node: str, created_at: str) -> bytes:
    """The archive of every configuration table: gzip of magic line, header (with the payload's sha256), payload."""
    tables: dict[str, Any] = {}
    for t in config_tables(conn):
        cols, _pk = _columns(conn, t)
        rows = [[_enc(v) for v in r] for r in conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid')]
        tables[t] = {"columns": cols, "rows": rows}
    payload = json.dumps({"tables": tables}, separators=(",", ":"), sort_keys=True).encode()
    header = {"format": FORMAT, "node": node, "created_at": created_at, "migrations": migrations(conn),
              "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
    return gzip.compress(MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload, mtime=0)


@dataclass(frozen=True)
class Archive:
    """A read and checked archive."""

    node: str
    created_at: str
    migrations: list[int]
    tables: dict[str, dict[str, Any]]


def load(blob: bytes) -> Archive:
    """Read an archive; a foreign, damaged or malformed file raises Invalid with the reason."""
    if len(blob) > MAX_ARCHIVE_BYTES:
        raise Invalid("backup_too_large", f"a backup is at most {MAX_ARCHIVE_BYTES} bytes", size=len(blob))
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(blob)) as gz:
            raw = gz.read(MAX_PAYLOAD_BYTES + 1)
    except (OSError, EOFError, zlib.error):
        raise Invalid("backup_foreign", "this is not a backup of this appliance (not a gzip archive)") from None
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise Invalid("backup_too_large", "the archive unpacks to too much data")
    if not raw.startswith(MAGIC):
        raise Invalid("backup_foreign", "this is not a backup of this appliance (unknown format)")
    head, sep, payload = raw[len(MAGIC):].partition(b"\n")
    try:
        header = json.loads(head)
    except ValueError:
        raise Invalid("backup_corrupt", "the archive's header is damaged") from None
    if not sep or not isinstance(header, dict) or header.get("format") != FORMAT:
        raise Invalid("backup_foreign", "this is not a configuration backup of this appliance")
    if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise Invalid("backup_corrupt", "the archive's checksum does not match: the file is damaged",
                      expected=header.get("sha256"))
    try:
        body = json.loads(payload)
        tables = body["tables"]
        mig = [int(n) for n in header["migrations"]]
        for name, t in tables.items():
            if not isinstance(name, str) or not isinstance(t["columns"], list) or not isinstance(t["rows"], list):
                raise TypeError(name)
            for row in t["rows"]:
                if not isinstance(row, list) or len(row) != len(t["columns"]):
                    raise TypeError(name)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise Invalid("backup_corrupt", "the archive's content is malformed") from None
    return Archive(str(header.get("node", "")), str(header.get("created_at", "")), mig, tables)


@dataclass
class RestoreReport:
    """Per table: rows added, removed, changed, unchanged; tables this box has but the archive lacks."""

    dry_run: bool
    source_node: str
    created_at: str
    schema_version: int
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    applied: bool = False


class _DryRun(Exception):  # a control-flow signal: roll the transaction back
    def __init__(self, report: RestoreReport) -> None:
        self.report = report


def _apply(conn: sqlite3.Connection, archive: Archive, report: RestoreReport) -> None:
    ours = set(migrations(conn))
    newer = sorted(set(archive.migrations) - ours)
    if newer:
        raise Invalid("backup_newer_schema", "the backup comes from a newer software version; update this box first",
                      unknown_migrations=newer)
    tables = config_tables(conn)
    unknown = sorted(set(archive.tables) - set(tables))
    if unknown:
        raise Invalid("backup_table_unknown", "the backup has tables this box does not keep as configuration",
                      tables=unknown)
    conn.execute("PRAGMA defer_foreign_keys = ON")
    plans: list[tuple[str, list[str], list[str], dict[Any, list[Any]], dict[Any, list[Any]]]] = []
    for t in tables:
        cols, pk = _columns(conn, t)
        if t not in archive.tables:
            report.tables[t] = {"not_in_backup": 1}
            continue
        theirs_cols = [str(c) for c in archive.tables[t]["columns"]]
        extra = sorted(set(theirs_cols) - set(cols))
        if extra:
            raise Invalid("backup_column_unknown", f"the backup's {t} has columns this box does not know",
                          table=t, columns=extra)
        key_cols = pk if pk and set(pk) <= set(theirs_cols) else theirs_cols
        kidx = [theirs_cols.index(c) for c in key_cols]
        theirs = {}
        for row in archive.tables[t]["rows"]:
            values = [_dec(v) for v in row]
            theirs[tuple(values[i] for i in kidx)] = values
        mine = {}
        for r in conn.execute(f'SELECT {", ".join(f"{chr(34)}{c}{chr(34)}" for c in theirs_cols)} FROM "{t}"'):
            mine[tuple(r[i] for i in kidx)] = list(r)
        plans.append((t, theirs_cols, key_cols, theirs, mine))
        report.tables[t] = {
            "added": sum(k not in mine for k in theirs),
            "removed": sum(k not in theirs for k in mine),
            "changed": sum(k in mine and mine[k] != v for k, v in theirs.items()),
            "unchanged": sum(k in mine and mine[k] == v for k, v in theirs.items()),
        }
    q = lambda c: f'"{c}"'  # noqa: E731
    referenced = _referenced(conn)
    for t, _cols, key_cols, theirs, mine in reversed(plans):  # children first
        where = " AND ".join(f"{q(c)} IS ?" for c in key_cols)
        # A changed row of a table nothing refers to is deleted and inserted again, not updated in
        # place: so rows that swap a unique value (members reordered) do not collide half-way.
        gone = [list(k) for k in mine if k not in theirs or (t not in referenced and mine[k] != theirs[k])]
        conn.executemany(f'DELETE FROM "{t}" WHERE {where}', gone)
    for t, cols, key_cols, theirs, mine in plans:  # parents first
        sets = ", ".join(f"{q(c)} = ?" for c in cols)
        where = " AND ".join(f"{q(c)} IS ?" for c in key_cols)
        insert = f'INSERT INTO "{t}" ({", ".join(q(c) for c in cols)}) VALUES ({", ".join("?" * len(cols))})'
        for k, v in theirs.items():
            old = mine.get(k)
            # A row kept or updated in place may be gone all the same: an ON DELETE CASCADE from a
            # parent row deleted above took it. Then it is inserted.
            if old is None or (old != v and t not in referenced):
                there = False
            elif old != v:
                there = conn.execute(f'UPDATE "{t}" SET {sets} WHERE {where}', v + list(k)).rowcount > 0
            else:
                there = conn.execute(f'SELECT 1 FROM "{t}" WHERE {where}', list(k)).fetchone() is not None
            if not there:
                conn.execute(insert, v)
    broken = list(conn.execute("PRAGMA foreign_key_check"))
    if broken:
        raise Invalid("backup_inconsistent", "the backup's rows refer to rows that do not exist",
                      examples=[{"table": str(b[0]), "refers_to": str(b[2])} for b in broken[:5]])


class BackupService:
    """Backup download and validated restore of the configuration tables."""

    def __init__(self, writer: Writer, clock: Clock, node: str,
                 after_restore: Callable[[], Awaitable[None]]) -> None:
        self._writer = writer
        self._clock = clock
        self._node = node
        self._after_restore = after_restore

    async def backup(self, actor: Actor) -> bytes:
        """The archive of the configuration now (the download is audited)."""
        def go(conn: sqlite3.Connection) -> bytes:
            blob = dump(conn, self._node, iso(self._clock.now()))
            audit.record(conn, self._clock, actor, "backup.download", self._node, bytes=len(blob))
            return blob

        return await self._writer.run(go)

    async def restore(self, actor: Actor, blob: bytes, dry_run: bool) -> RestoreReport:
        """Check an archive and report what it changes; unless `dry_run`, apply it in one transaction."""
        archive = load(blob)
        report = RestoreReport(dry_run, archive.node, archive.created_at, max(archive.migrations, default=0))

        def go(conn: sqlite3.Connection) -> None:
            try:
                _apply(conn, archive, report)
            except sqlite3.DatabaseError as exc:
                raise Invalid("backup_rejected", f"the backup's rows break this box's rules: {exc}") from None
            if dry_run:
                raise _DryRun(report)
            conn.execute("DELETE FROM web_sessions")  # users and passwords may have changed: log in again
            changes = {t: c for t, c in report.tables.items() if c.get("added") or c.get("removed")
                       or c.get("changed")}
            audit.record(conn, self._clock, actor, "backup.restore", archive.node, created_at=archive.created_at,
                         changes=changes)

        try:
            await self._writer.run(go)
        except _DryRun:
            return report
        report.applied = True
        await self._after_restore()
        return report
