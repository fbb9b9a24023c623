"""Trunks, outbound routes and toll-fraud limits in SQLite (the trunk service is the only writer)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime

import aiosqlite

from appliance.domain.clock import iso
from appliance.trunks.model import (
    CallerIdMode,
    CallerIdRule,
    OutboundRoute,
    Transport,
    Trunk,
    TrunkError,
    TrunkKind,
)
from appliance.trunks.tollfraud import BlockedPrefix, PermissionClass, TollPolicy
from provisioning.secrets import SecretBox


@dataclass(frozen=True)
class TrunkConfig:
    """Everything outbound routing needs, read in one go."""

    trunks: dict[str, Trunk] = field(default_factory=dict)
    routes: list[OutboundRoute] = field(default_factory=list)
    policy: TollPolicy = field(default_factory=TollPolicy)


class TrunkStore:
    """Reads and writes the trunk tables; digest passwords are sealed with `box`."""

    def __init__(self, db: aiosqlite.Connection, box: SecretBox) -> None:
        self._db = db
        self._box = box

    async def load(self) -> TrunkConfig:
        """The whole trunk configuration."""
        trunks: dict[str, Trunk] = {}
        async with self._db.execute(
            "SELECT name, kind, host, port, transport, username, enabled, answer_timeout_s, health_check"
            " FROM trunks ORDER BY name"
        ) as cur:
            async for r in cur:
                trunks[r["name"]] = Trunk(
                    r["name"], TrunkKind(r["kind"]), r["host"], int(r["port"]), Transport(r["transport"]),
                    r["username"], bool(r["enabled"]), float(r["answer_timeout_s"]), bool(r["health_check"]),
                )
        members: dict[str, list[str]] = {}
        async with self._db.execute("SELECT route, trunk FROM outbound_route_trunks ORDER BY route, position") as cur:
            async for r in cur:
                members.setdefault(r["route"], []).append(r["trunk"])
        cids: dict[str, dict[TrunkKind, CallerIdRule]] = {}
        async with self._db.execute("SELECT route, kind, mode, number, strip, prefix FROM outbound_caller_ids") as cur:
            async for r in cur:
                cids.setdefault(r["route"], {})[TrunkKind(r["kind"])] = CallerIdRule(
                    CallerIdMode(r["mode"]), r["number"], int(r["strip"]), r["prefix"]
                )
        routes: list[OutboundRoute] = []
        async with self._db.execute(
            "SELECT name, pattern, strip, prepend, ring_seconds, record, priority FROM outbound_routes ORDER BY name"
        ) as cur:
            async for r in cur:
                routes.append(OutboundRoute(
                    r["name"], r["pattern"], tuple(members.get(r["name"], ())), cids.get(r["name"], {}),
                    int(r["strip"]), r["prepend"], int(r["ring_seconds"]), bool(r["record"]), int(r["priority"]),
                ))
        return TrunkConfig(trunks, routes, await self._policy())

    async def _policy(self) -> TollPolicy:
        async with self._db.execute(
            "SELECT allowed_patterns, blocked, default_class, max_calls_per_hour FROM toll_policy WHERE id = 1"
        ) as cur:
            row = await cur.fetchone()
        classes: dict[str, PermissionClass] = {}
        async with self._db.execute("SELECT extension, class FROM toll_classes") as cur:
            async for r in cur:
                classes[r["extension"]] = PermissionClass(r["class"])
        if row is None:
            return TollPolicy(classes=classes)
        return TollPolicy(
            allowed_patterns=tuple(json.loads(row["allowed_patterns"])),
            blocked=tuple(BlockedPrefix(b["prefix"], PermissionClass(b["needs"])) for b in json.loads(row["blocked"])),
            default_class=PermissionClass(row["default_class"]),
            classes=classes,
            max_calls_per_hour=int(row["max_calls_per_hour"]),
        )

    async def put_trunk(self, trunk: Trunk, password: str | None, *, create: bool) -> None:
        """Create or replace a trunk; `password` None keeps the stored one (on update)."""
        if password is not None and trunk.username is None:
            raise TrunkError("password", "a password needs a username")
        sealed = self._box.seal(password, f"trunk:{trunk.name}") if password else None
        params = (
            trunk.kind.value, trunk.host, trunk.port, trunk.transport.value, trunk.username,
            int(trunk.enabled), trunk.answer_timeout_s, int(trunk.health_check),
        )
        if create:
            async with self._db.execute("SELECT 1 FROM trunks WHERE name = ?", (trunk.name,)) as cur:
                if await cur.fetchone():
                    raise TrunkError("name", f"trunk {trunk.name!r} exists")
        try:
            if create:
                await self._db.execute(
                    "INSERT INTO trunks(name, kind, host, port, transport, username, enabled, answer_timeout_s,"
                    " health_check, secret) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (trunk.name, *params, sealed),
                )
                return
            cur = await self._db.execute(
                "UPDATE trunks SET kind = ?, host = ?, port = ?, transport = ?, username = ?, enabled = ?,"
                " answer_timeout_s = ?, health_check = ?,"
                " secret = CASE WHEN ? IS NULL THEN NULL WHEN ? IS NULL THEN secret ELSE ? END WHERE name = ?",
                (*params, trunk.username, sealed, sealed, trunk.name),
            )
        except sqlite3.IntegrityError:
            raise TrunkError("host", f"another trunk already uses {trunk.address}") from None
        if cur.rowcount == 0:
            raise KeyError(trunk.name)

    async def delete_trunk(self, name: str) -> None:
        """Delete a trunk no route uses."""
        try:
            cur = await self._db.execute("DELETE FROM trunks WHERE name = ?", (name,))
        except sqlite3.IntegrityError:
            raise TrunkError("name", f"trunk {name!r} is used by an outbound route") from None
        if cur.rowcount == 0:
            raise KeyError(name)

    async def password(self, name: str) -> str | None:
        """The trunk's digest password (opened only to answer its challenge)."""
        async with self._db.execute("SELECT secret FROM trunks WHERE name = ?", (name,)) as cur:
            row = await cur.fetchone()
        if row is None or row["secret"] is None:
            return None
        return self._box.open(bytes(row["secret"]), f"trunk:{name}")

    async def put_route(self, route: OutboundRoute, *, create: bool) -> None:
        """Create or replace an outbound route with its trunks and caller-ID rules (one transaction)."""
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            if create:
                await self._db.execute(
                    "INSERT INTO outbound_routes(name, pattern, strip, prepend, ring_seconds, record, priority)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (route.name, route.pattern, route.strip, route.prepend, route.ring_seconds,
                     int(route.record), route.priority),
                )
            else:
                cur = await self._db.execute(
                    "UPDATE outbound_routes SET pattern = ?, strip = ?, prepend = ?, ring_seconds = ?, record = ?,"
                    " priority = ? WHERE name = ?",
                    (route.pattern, route.strip, route.prepend, route.ring_seconds, int(route.record),
                     route.priority, route.name),
                )
                if cur.rowcount == 0:
                    raise KeyError(route.name)
                await self._db.execute("DELETE FROM outbound_route_trunks WHERE route = ?", (route.name,))
                await self._db.execute("DELETE FROM outbound_caller_ids WHERE route = ?", (route.name,))
            await self._db.executemany(
                "INSERT INTO outbound_route_trunks(route, position, trunk) VALUES (?, ?, ?)",
                [(route.name, i, t) for i, t in enumerate(route.trunks)],
            )
            await self._db.executemany(
                "INSERT INTO outbound_caller_ids(route, kind, mode, number, strip, prefix) VALUES (?, ?, ?, ?, ?, ?)",
                [(route.name, k.value, r.mode.value, r.number, r.strip, r.prefix) for k, r in route.caller_id.items()],
            )
            await self._db.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            await self._db.execute("ROLLBACK")
            if "FOREIGN KEY" in str(exc):
                raise TrunkError("trunks", "unknown trunk") from None
            raise TrunkError("name", f"route {route.name!r} exists") from None
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise

    async def delete_route(self, name: str) -> None:
        """Delete an outbound route."""
        cur = await self._db.execute("DELETE FROM outbound_routes WHERE name = ?", (name,))
        if cur.rowcount == 0:
            raise KeyError(name)

    async def put_policy(self, policy: TollPolicy) -> None:
        """Replace the toll-fraud limits and the per-extension classes (one transaction)."""
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.execute(
                "INSERT INTO toll_policy(id, allowed_patterns, blocked, default_class, max_calls_per_hour)"
                " VALUES (1, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET allowed_patterns = excluded.allowed_patterns,"
                " blocked = excluded.blocked, default_class = excluded.default_class,"
                " max_calls_per_hour = excluded.max_calls_per_hour",
                (
                    json.dumps(list(policy.allowed_patterns)),
                    json.dumps([{"prefix": b.prefix, "needs": b.needs.value} for b in policy.blocked]),
                    policy.default_class.value, policy.max_calls_per_hour,
                ),
            )
            await self._db.execute("DELETE FROM toll_classes")
            await self._db.executemany(
                "INSERT INTO toll_classes(extension, class) VALUES (?, ?)",
                [(ext, cls.value) for ext, cls in sorted(policy.classes.items())],
            )
            await self._db.execute("COMMIT")
        except sqlite3.IntegrityError:
            await self._db.execute("ROLLBACK")
            raise TrunkError("classes", "a permission class names an unknown extension") from None
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise

    async def outbound_calls_since(self, extension: str, since: datetime, exclude: str = "") -> int:
        """External call attempts `extension` placed since `since` (from the CDRs), but `exclude`."""
        async with self._db.execute(
            "SELECT count(*) FROM cdrs WHERE kind = 'outbound' AND caller = ? AND started_at >= ? AND call_id != ?",
            (extension, iso(since), exclude),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def audit(self, at: datetime, actor: str, source: str, action: str, target: str, **detail: object) -> None:
        """Append an audit row for an admin change (never a password)."""
        await self._db.execute(
            "INSERT INTO audit_log(at, actor, action, target, detail, source) VALUES (?, ?, ?, ?, ?, ?)",
            (iso(at), actor, action, target, json.dumps(detail, sort_keys=True, default=str), source),
        )
