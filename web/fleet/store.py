"""Fleet store: boxes, events de-duplicated on (node, id), config, command results.

One interface (`FleetStorage`), two stores: SQLite (`FleetStore`, the default) and
PostgreSQL (`web.fleet.pgstore.PgFleetStore`, when a DSN is given). Both run the same
SQL text from `SqlFleetStore`; only the few dialect spellings differ (placeholders,
insert-or-ignore, arrival order), so their behaviour cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from appliance.sync.envelope import Envelope

BEST_EFFORT_STREAMS = frozenset({"metrics"})


@dataclass(frozen=True)
class BoxRow:
    """One box as the dashboard shows it."""

    node: str
    online: bool
    since: float | None
    last_seen: float | None
    version: str | None
    backlog: int | None
    metrics: dict[str, Any]
    seq_floor: int
    alarms: int


class FleetStorage(Protocol):
    """What the fleet service and dashboard need from a store (SQLite or PostgreSQL)."""

    async def close(self) -> None: ...
    async def begin(self) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    async def add_event(self, node: str, stream: str, env: Envelope, now: float) -> bool: ...
    async def touch(self, node: str, now: float) -> None: ...
    async def set_online(self, node: str, online: bool, at: float) -> bool: ...
    async def set_birth(self, node: str, env: Envelope) -> None: ...
    async def set_metrics(self, node: str, data: dict[str, Any]) -> None: ...
    async def set_seq_floor(self, node: str, floor: int) -> None: ...
    async def set_resync(self, node: str, at: float) -> None: ...
    async def set_reported(self, node: str, version: int | None, body: dict[str, Any],
                           at: float) -> None: ...
    async def set_desired(self, node: str, version: int, config: dict[str, Any],
                          at: float) -> None: ...
    async def add_command_result(self, node: str, cmd_id: str, status: str,
                                 body: dict[str, Any], at: float) -> None: ...
    async def boxes(self) -> list[BoxRow]: ...
    async def box(self, node: str) -> BoxRow | None: ...
    async def events(self, node: str, stream: str | None = None,
                     limit: int = 1_000_000) -> list[dict[str, Any]]: ...
    async def recent(self, node: str, stream: str, limit: int) -> list[dict[str, Any]]: ...
    async def config(self, node: str) -> dict[str, Any]: ...
    async def command_results(self, node: str, cmd_id: str) -> list[dict[str, Any]]: ...
    async def seq_floors(self) -> dict[str, int]: ...
    async def seqs_above(self, node: str, floor: int) -> list[int]: ...
    async def birth(self, node: str) -> dict[str, Any] | None: ...


class SqlFleetStore:
    """The store's SQL, written once; subclasses give the connection and dialect."""

    PLACEHOLDER = "?"
    BEGIN = "BEGIN"
    INSERT_IGNORE = "INSERT OR IGNORE INTO"
    IGNORE_SUFFIX = ""
    ARRIVAL = "rowid"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def _exec(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        if self.PLACEHOLDER != "?":
            sql = sql.replace("?", self.PLACEHOLDER)
        return await self.conn.execute(sql, args)

    async def _rows(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        cur = await self._exec(sql, args)
        return list(await cur.fetchall())

    async def close(self) -> None:
        """Close the connection."""
        await self.conn.close()

    async def begin(self) -> None:
        """Start a write transaction (one per ingest batch)."""
        await self._exec(self.BEGIN)

    async def commit(self) -> None:
        """Commit the current batch."""
        await self._exec("COMMIT")

    async def rollback(self) -> None:
        """Abandon the current batch."""
        await self._exec("ROLLBACK")

    async def add_event(self, node: str, stream: str, env: Envelope, now: float) -> bool:
        """Store an event once; False when (node, id) was already stored."""
        cur = await self._exec(
            f"{self.INSERT_IGNORE} events(node, id, stream, seq, type, ts, hist, data, received)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?){self.IGNORE_SUFFIX}",
            (node, env.id, stream, env.seq, env.type, env.ts, int(env.hist),
             json.dumps(env.data), now),
        )
        return bool(cur.rowcount == 1)

    async def touch(self, node: str, now: float) -> None:
        """Make sure the box exists and record when it was last heard from."""
        await self._exec(
            "INSERT INTO boxes(node, last_seen) VALUES (?, ?)"
            " ON CONFLICT(node) DO UPDATE SET last_seen = excluded.last_seen",
            (node, now),
        )

    async def set_online(self, node: str, online: bool, at: float) -> bool:
        """Set online/offline; `since` changes only on a change. True when it changed."""
        await self.touch(node, at)
        cur = await self._exec(
            "UPDATE boxes SET online = ?, since = ? WHERE node = ? AND (online != ? OR since IS NULL)",
            (int(online), at, node, int(online)),
        )
        return bool(cur.rowcount == 1)

    async def set_birth(self, node: str, env: Envelope) -> None:
        """Record a birth: session, software version, backlog."""
        d = env.data
        await self._exec(
            "UPDATE boxes SET session = ?, version = ?, birth = ?, backlog = ? WHERE node = ?",
            (env.session, str(d.get("version", "")), json.dumps(d), d.get("backlog"), node),
        )

    async def set_metrics(self, node: str, data: dict[str, Any]) -> None:
        """Keep the latest metrics sample on the box row."""
        await self._exec(
            "UPDATE boxes SET metrics = ?, backlog = ? WHERE node = ?",
            (json.dumps(data), data.get("outbox_backlog"), node),
        )

    async def set_seq_floor(self, node: str, floor: int) -> None:
        """Persist the contiguous sequence watermark of a box."""
        await self._exec("UPDATE boxes SET seq_floor = ? WHERE node = ?", (floor, node))

    async def set_resync(self, node: str, at: float) -> None:
        """Remember when a resync was last requested."""
        await self._exec("UPDATE boxes SET last_resync = ? WHERE node = ?", (at, node))

    async def set_reported(self, node: str, version: int | None, body: dict[str, Any],
                           at: float) -> None:
        """Record the box's reported configuration."""
        await self._exec(
            "INSERT INTO config(node, reported_version, reported, reported_at) VALUES (?,?,?,?)"
            " ON CONFLICT(node) DO UPDATE SET reported_version = excluded.reported_version,"
            " reported = excluded.reported, reported_at = excluded.reported_at",
            (node, version, json.dumps(body), at),
        )

    async def set_desired(self, node: str, version: int, config: dict[str, Any],
                          at: float) -> None:
        """Record the desired configuration pushed to a box."""
        await self._exec(
            "INSERT INTO config(node, desired_version, desired, desired_at) VALUES (?,?,?,?)"
            " ON CONFLICT(node) DO UPDATE SET desired_version = excluded.desired_version,"
            " desired = excluded.desired, desired_at = excluded.desired_at",
            (node, version, json.dumps(config), at),
        )

    async def add_command_result(self, node: str, cmd_id: str, status: str,
                                 body: dict[str, Any], at: float) -> None:
        """Store one command acknowledgement (a repeated status replaces the earlier one)."""
        await self._exec(
            "INSERT INTO command_results(node, cmd_id, status, body, received)"
            " VALUES (?,?,?,?,?) ON CONFLICT(node, cmd_id, status) DO UPDATE"
            " SET body = excluded.body, received = excluded.received",
            (node, cmd_id, status, json.dumps(body), at),
        )

    # ---- reads -----------------------------------------------------------------------
    async def boxes(self) -> list[BoxRow]:
        """All boxes with their open alarm count."""
        rows = await self._rows(
            "SELECT b.node, b.online, b.since, b.last_seen, b.version, b.backlog, b.metrics,"
            " b.seq_floor, (SELECT count(*) FROM events e WHERE e.node = b.node"
            " AND e.stream = 'alarm') FROM boxes b ORDER BY b.node"
        )
        return [BoxRow(r[0], bool(r[1]), r[2], r[3], r[4], r[5], json.loads(r[6] or "{}"),
                       int(r[7]), int(r[8])) for r in rows]

    async def box(self, node: str) -> BoxRow | None:
        """One box, or None."""
        return next((b for b in await self.boxes() if b.node == node), None)

    async def birth(self, node: str) -> dict[str, Any] | None:
        """The data of the box's last birth message, or None."""
        rows = await self._rows("SELECT birth FROM boxes WHERE node = ?", (node,))
        if not rows or rows[0][0] is None:
            return None
        data = json.loads(rows[0][0])
        return data if isinstance(data, dict) else None

    async def events(self, node: str, stream: str | None = None,
                     limit: int = 1_000_000) -> list[dict[str, Any]]:
        """Stored events of a node in arrival order (optionally one stream)."""
        sql = "SELECT id, stream, seq, type, ts, hist, data, received FROM events WHERE node = ?"
        args: list[Any] = [node]
        if stream is not None:
            sql += " AND stream = ?"
            args.append(stream)
        sql += f" ORDER BY {self.ARRIVAL} LIMIT ?"
        args.append(limit)
        rows = await self._rows(sql, args)
        return [{"id": r[0], "stream": r[1], "seq": r[2], "type": r[3], "ts": r[4],
                 "hist": bool(r[5]), "data": json.loads(r[6]), "received": r[7]} for r in rows]

    async def recent(self, node: str, stream: str, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` events of one stream, oldest first."""
        rows = await self._rows(
            "SELECT seq, type, ts, data FROM events WHERE node = ? AND stream = ?"
            f" ORDER BY {self.ARRIVAL} DESC LIMIT ?", (node, stream, limit))
        return [{"seq": r[0], "type": r[1], "ts": r[2], "data": json.loads(r[3])}
                for r in reversed(rows)]

    async def config(self, node: str) -> dict[str, Any]:
        """Desired and reported configuration of a box."""
        rows = await self._rows(
            "SELECT desired_version, desired, desired_at, reported_version, reported,"
            " reported_at FROM config WHERE node = ?", (node,))
        if not rows:
            return {}
        r = rows[0]
        return {"desired_version": r[0], "desired": json.loads(r[1] or "null"),
                "desired_at": r[2], "reported_version": r[3],
                "reported": json.loads(r[4] or "null"), "reported_at": r[5]}

    async def command_results(self, node: str, cmd_id: str) -> list[dict[str, Any]]:
        """Acknowledgements received for one command, in arrival order."""
        rows = await self._rows(
            "SELECT status, body FROM command_results WHERE node = ? AND cmd_id = ?"
            f" ORDER BY received, {self.ARRIVAL}", (node, cmd_id))
        return [{"status": r[0], **json.loads(r[1])} for r in rows]

    async def seq_floors(self) -> dict[str, int]:
        """The persisted contiguous watermark of every box."""
        return {r[0]: int(r[1]) for r in await self._rows("SELECT node, seq_floor FROM boxes")}

    async def seqs_above(self, node: str, floor: int) -> list[int]:
        """Sequence numbers of a node's gap-tracked events above `floor`."""
        rows = await self._rows(
            "SELECT seq FROM events WHERE node = ? AND seq > ? AND stream != 'metrics'",
            (node, floor))
        return [int(r[0]) for r in rows]


class FleetStore(SqlFleetStore):
    """The fleet's database on SQLite (the default); the ingest task is its only writer."""

    BEGIN = "BEGIN IMMEDIATE"

    @classmethod
    async def open(cls, path: Path) -> FleetStore:
        """Open (and create) the fleet database."""
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")
        await conn.execute("PRAGMA busy_timeout=5000")
        schema = resources.files("web.fleet").joinpath("schema.sql").read_text()
        await conn.executescript(schema)
        return cls(conn)


async def open_store(path: Path, dsn: str | None = None) -> FleetStorage:
    """PostgreSQL when a DSN is given, else SQLite at `path`."""
    if dsn:
        from web.fleet.pgstore import PgFleetStore  # psycopg only when asked for

        return await PgFleetStore.open(dsn)
    return await FleetStore.open(path)
