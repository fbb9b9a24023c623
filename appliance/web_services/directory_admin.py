"""Admin changes to extensions and ring groups, validated, audited, then routed at once."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiosqlite

from appliance.domain.clock import Clock
from appliance.storage.directory import generate_password, ha1
from appliance.web_services import audit, rules
from appliance.web_services.audit import Actor
from appliance.web_services.errors import Conflict, Invalid, NotFound
from appliance.web_services.tx import Writer

MAX_MEMBERS = 32
T = TypeVar("T")


@dataclass(frozen=True)
class Extension:
    """An extension as the admin sees it (never its credentials)."""

    number: str
    display_name: str
    enabled: bool


@dataclass(frozen=True)
class RingGroupView:
    """A ring group with its members in hunt order."""

    number: str
    name: str
    members: list[str]
    ring_seconds: int
    record: bool


def number_taken(conn: sqlite3.Connection, number: str) -> str | None:
    """What already answers this number (extension, ring group, queue, IVR, DID), if anything."""
    for table, column, kind in (("extensions", "number", "extension"), ("ring_groups", "number", "ring_group"),
                                ("queues", "number", "queue"), ("ivrs", "number", "ivr"), ("dids", "did", "did")):
        if conn.execute(f"SELECT 1 FROM {table} WHERE {column} = ?", (number,)).fetchone():
            return kind
    return None


def require_free_number(conn: sqlite3.Connection, number: str) -> None:
    """Refuse (409 `number_taken`) a number something already answers."""
    kind = number_taken(conn, number)
    if kind:
        raise Conflict("number_taken", f"{number} is already a {kind.replace('_', ' ')}",
                       field="number", taken_by=kind)


class DirectoryAdmin:
    """Extensions and ring groups CRUD; `on_change` runs after every committed change."""

    def __init__(self, db: aiosqlite.Connection, writer: Writer, clock: Clock, realm: str,
                 on_change: Callable[[], Awaitable[None]]) -> None:
        self._db = db
        self._writer = writer
        self._clock = clock
        self._realm = realm
        self._on_change = on_change

    async def _change(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        result = await self._writer.run(fn)
        await self._on_change()
        return result

    # -- extensions -------------------------------------------------------------------------

    async def extensions(self) -> list[Extension]:
        """Every extension by number."""
        async with self._db.execute(
            "SELECT number, display_name, enabled FROM extensions ORDER BY length(number), number"
        ) as cur:
            return [Extension(str(r[0]), str(r[1]), bool(r[2])) for r in await cur.fetchall()]

    async def extension(self, number: str) -> Extension:
        """One extension."""
        async with self._db.execute(
            "SELECT number, display_name, enabled FROM extensions WHERE number = ?", (number,)
        ) as cur:
            r = await cur.fetchone()
        if r is None:
            raise NotFound("extension_not_found", f"no extension {number}", number=number)
        return Extension(str(r[0]), str(r[1]), bool(r[2]))

    async def create_extension(self, actor: Actor, number: str, display_name: str) -> tuple[Extension, str]:
        """Create an extension; returns it with its generated SIP password (shown once)."""
        rules.number(number)
        name = rules.display_name(display_name)
        password = generate_password()

        def go(conn: sqlite3.Connection) -> None:
            require_free_number(conn, number)
            conn.execute(
                "INSERT INTO extensions(number, display_name, ha1, realm) VALUES (?, ?, ?, ?)",
                (number, name, ha1(number, self._realm, password), self._realm),
            )
            audit.record(conn, self._clock, actor, "extension.create", number, display_name=name)

        await self._change(go)
        return Extension(number, name, True), password

    async def reset_password(self, actor: Actor, number: str) -> str:
        """A new generated SIP password for an extension (shown once)."""
        password = generate_password()

        def go(conn: sqlite3.Connection) -> None:
            cur = conn.execute("UPDATE extensions SET ha1 = ?, realm = ? WHERE number = ?",
                               (ha1(number, self._realm, password), self._realm, number))
            if cur.rowcount != 1:
                raise NotFound("extension_not_found", f"no extension {number}", number=number)
            audit.record(conn, self._clock, actor, "extension.reset_password", number)

        await self._change(go)
        return password

    async def update_extension(self, actor: Actor, number: str, *, display_name: str | None = None,
                               enabled: bool | None = None) -> Extension:
        """Rename an extension or turn it on or off."""
        name = rules.display_name(display_name) if display_name is not None else None

        def go(conn: sqlite3.Connection) -> Extension:
            r = conn.execute("SELECT display_name, enabled FROM extensions WHERE number = ?", (number,)).fetchone()
            if r is None:
                raise NotFound("extension_not_found", f"no extension {number}", number=number)
            new = Extension(number, r[0] if name is None else name, bool(r[1]) if enabled is None else enabled)
            conn.execute("UPDATE extensions SET display_name = ?, enabled = ? WHERE number = ?",
                         (new.display_name, int(new.enabled), number))
            audit.record(conn, self._clock, actor, "extension.update", number,
                         display_name=new.display_name, enabled=new.enabled)
            return new

        return await self._change(go)

    async def delete_extension(self, actor: Actor, number: str) -> None:
        """Delete an extension; it leaves every ring group it was in."""

        def go(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM extensions WHERE number = ?", (number,)).rowcount != 1:
                raise NotFound("extension_not_found", f"no extension {number}", number=number)
            audit.record(conn, self._clock, actor, "extension.delete", number)

        await self._change(go)

    # -- ring groups ------------------------------------------------------------------------

    async def ring_groups(self) -> list[RingGroupView]:
        """Every ring group by number, members in hunt order."""
        async with self._db.execute("SELECT number FROM ring_groups ORDER BY length(number), number") as cur:
            numbers = [str(r[0]) for r in await cur.fetchall()]
        return [await self.ring_group(n) for n in numbers]

    async def ring_group(self, number: str) -> RingGroupView:
        """One ring group."""
        async with self._db.execute(
            "SELECT name, ring_seconds, record FROM ring_groups WHERE number = ?", (number,)
        ) as cur:
            r = await cur.fetchone()
        if r is None:
            raise NotFound("ring_group_not_found", f"no ring group {number}", number=number)
        async with self._db.execute(
            "SELECT extension FROM ring_group_members WHERE ring_group = ? ORDER BY position", (number,)
        ) as cur:
            members = [str(m[0]) for m in await cur.fetchall()]
        return RingGroupView(number, str(r[0]), members, int(r[1]), bool(r[2]))

    @staticmethod
    def _check_members(conn: sqlite3.Connection, members: list[str]) -> None:
        if len(members) > MAX_MEMBERS:
            raise Invalid("too_many_members", f"a ring group has at most {MAX_MEMBERS} members", field="members")
        if len(set(members)) != len(members):
            raise Invalid("duplicate_member", "a member appears twice", field="members")
        known = {str(r[0]) for r in conn.execute("SELECT number FROM extensions")}
        unknown = [m for m in members if m not in known]
        if unknown:
            raise Invalid("unknown_member", "members must be existing extensions", field="members", unknown=unknown)

    @staticmethod
    def _write_members(conn: sqlite3.Connection, number: str, members: list[str]) -> None:
        conn.execute("DELETE FROM ring_group_members WHERE ring_group = ?", (number,))
        conn.executemany(
            "INSERT INTO ring_group_members(ring_group, position, extension) VALUES (?, ?, ?)",
            [(number, i, m) for i, m in enumerate(members)],
        )

    async def create_ring_group(self, actor: Actor, number: str, name: str, members: list[str],
                                ring_seconds: int = 15, record: bool = True) -> RingGroupView:
        """Create a ring group hunting `members` in order."""
        rules.number(number)
        name = rules.display_name(name, "name")
        rules.ring_seconds(ring_seconds)

        def go(conn: sqlite3.Connection) -> None:
            require_free_number(conn, number)
            self._check_members(conn, members)
            conn.execute("INSERT INTO ring_groups(number, name, ring_seconds, record) VALUES (?, ?, ?, ?)",
                         (number, name, ring_seconds, int(record)))
            self._write_members(conn, number, members)
            audit.record(conn, self._clock, actor, "ring_group.create", number, name=name, members=members,
                         ring_seconds=ring_seconds, record=record)

        await self._change(go)
        return RingGroupView(number, name, list(members), ring_seconds, record)

    async def update_ring_group(self, actor: Actor, number: str, *, name: str | None = None,
                                members: list[str] | None = None, ring_seconds: int | None = None,
                                record: bool | None = None) -> RingGroupView:
        """Change a ring group's name, members and their order, ring seconds or recording."""
        if name is not None:
            name = rules.display_name(name, "name")
        if ring_seconds is not None:
            rules.ring_seconds(ring_seconds)

        def go(conn: sqlite3.Connection) -> None:
            if not conn.execute("SELECT 1 FROM ring_groups WHERE number = ?", (number,)).fetchone():
                raise NotFound("ring_group_not_found", f"no ring group {number}", number=number)
            changes: dict[str, object] = {}
            for col, value in (("name", name), ("ring_seconds", ring_seconds),
                               ("record", None if record is None else int(record))):
                if value is not None:
                    conn.execute(f"UPDATE ring_groups SET {col} = ? WHERE number = ?", (value, number))
                    changes[col] = value
            if members is not None:
                self._check_members(conn, members)
                self._write_members(conn, number, members)
                changes["members"] = members
            audit.record(conn, self._clock, actor, "ring_group.update", number, **changes)

        await self._change(go)
        return await self.ring_group(number)

    async def delete_ring_group(self, actor: Actor, number: str) -> None:
        """Delete a ring group."""

        def go(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM ring_groups WHERE number = ?", (number,)).rowcount != 1:
                raise NotFound("ring_group_not_found", f"no ring group {number}", number=number)
            audit.record(conn, self._clock, actor, "ring_group.delete", number)

        await self._change(go)
