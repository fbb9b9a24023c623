"""Extensions and ring groups: credentials as HA1 only, the numbering plan for routing."""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass

import aiosqlite

from appliance.domain.dialplan import Directory, RingGroup

_ALPHABET = string.ascii_letters + string.digits


def ha1(user: str, realm: str, password: str) -> str:
    """The digest HA1 (RFC 2617): md5(user:realm:password)."""
    return hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()


def generate_password(length: int = 16) -> str:
    """A random SIP password, letters and digits only (easy to type on a desk phone)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class NewExtension:
    """An extension just created, with its password shown this once."""

    number: str
    display_name: str
    password: str


class DirectoryStore:
    """The extensions and ring groups tables. The controller is their only writer."""

    def __init__(self, db: aiosqlite.Connection, realm: str) -> None:
        self._db = db
        self.realm = realm

    async def is_empty(self) -> bool:
        """True when no extension exists yet (first start)."""
        async with self._db.execute("SELECT 1 FROM extensions LIMIT 1") as cur:
            return await cur.fetchone() is None

    async def create_extension(self, number: str, display_name: str) -> NewExtension:
        """Create an extension with a generated password; only its HA1 is stored."""
        password = generate_password()
        await self._db.execute(
            "INSERT INTO extensions(number, display_name, ha1, realm) VALUES (?, ?, ?, ?)",
            (number, display_name, ha1(number, self.realm, password), self.realm),
        )
        return NewExtension(number, display_name, password)

    async def reset_password(self, number: str) -> str:
        """Give an extension a new generated password and return it (shown once)."""
        password = generate_password()
        cur = await self._db.execute(
            "UPDATE extensions SET ha1 = ?, realm = ? WHERE number = ?",
            (ha1(number, self.realm, password), self.realm, number),
        )
        if cur.rowcount != 1:
            raise KeyError(f"no extension {number}")
        return password

    async def ha1_for(self, user: str) -> str | None:
        """The HA1 of an enabled extension, or None."""
        async with self._db.execute(
            "SELECT ha1 FROM extensions WHERE number = ? AND enabled = 1 AND realm = ?",
            (user, self.realm),
        ) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def create_ring_group(
        self, number: str, name: str, members: list[str], ring_seconds: int = 15, record: bool = True
    ) -> None:
        """Create a ring group hunting `members` in order."""
        await self._db.execute("BEGIN")
        try:
            await self._db.execute(
                "INSERT INTO ring_groups(number, name, ring_seconds, record) VALUES (?, ?, ?, ?)",
                (number, name, ring_seconds, int(record)),
            )
            await self._db.executemany(
                "INSERT INTO ring_group_members(ring_group, position, extension) VALUES (?, ?, ?)",
                [(number, i, m) for i, m in enumerate(members)],
            )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise

    async def load(self) -> Directory:
        """The numbering plan as a pure `Directory`."""
        async with self._db.execute("SELECT number FROM extensions WHERE enabled = 1") as cur:
            extensions = frozenset(str(r[0]) for r in await cur.fetchall())
        groups: dict[str, RingGroup] = {}
        async with self._db.execute("SELECT number, name, ring_seconds, record FROM ring_groups") as cur:
            rows = await cur.fetchall()
        for number, name, ring_seconds, record in rows:
            async with self._db.execute(
                "SELECT extension FROM ring_group_members WHERE ring_group = ? ORDER BY position",
                (number,),
            ) as cur:
                members = tuple(str(r[0]) for r in await cur.fetchall())
            groups[str(number)] = RingGroup(str(number), str(name), members, int(ring_seconds), bool(record))
        return Directory(extensions, groups)
