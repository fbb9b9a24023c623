"""Web users and roles: argon2 password hashes, per-user API tokens, the last admin kept."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import sqlite3
from dataclasses import dataclass

import aiosqlite
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from appliance.domain.clock import Clock
from appliance.web_services import audit, rules
from appliance.web_services.audit import Actor
from appliance.web_services.errors import Conflict, NotFound
from appliance.web_services.rules import Role
from appliance.web_services.tx import Writer

TOKEN_PREFIX = "apt_"


def password_hasher() -> PasswordHasher:
    """argon2id at OWASP's recommended cost (19 MiB, 2 passes, 1 lane): ~40 ms here, bearable on a Pi."""
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_COLUMNS = "id, username, role, enabled, token_hash IS NOT NULL"


@dataclass(frozen=True)
class User:
    """A web user as the app sees them (never with a hash)."""

    id: int
    username: str
    role: Role
    enabled: bool
    has_token: bool


def _user(row: sqlite3.Row | aiosqlite.Row | tuple[object, ...]) -> User:
    return User(int(row[0]), str(row[1]), Role(row[2]), bool(row[3]), bool(row[4]))  # type: ignore[arg-type]


def token_hash(token: str) -> str:
    """What is stored for a bearer token (sha256; the token is high-entropy)."""
    return hashlib.sha256(token.encode()).hexdigest()


class UserService:
    """Create, change and check web users."""

    def __init__(self, db: aiosqlite.Connection, writer: Writer, clock: Clock,
                 hasher: PasswordHasher | None = None) -> None:
        self._db = db
        self._writer = writer
        self._clock = clock
        self._hasher = hasher or password_hasher()
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    async def has_admin(self) -> bool:
        """True once an enabled admin exists (the first-visit setup is closed then)."""
        async with self._db.execute("SELECT 1 FROM web_users WHERE role = 'admin' AND enabled = 1 LIMIT 1") as cur:
            return await cur.fetchone() is not None

    async def list(self) -> list[User]:
        """Every user, by username."""
        async with self._db.execute(f"SELECT {_COLUMNS} FROM web_users ORDER BY username") as cur:
            return [_user(r) for r in await cur.fetchall()]

    async def get(self, user_id: int) -> User:
        """One user by id."""
        async with self._db.execute(f"SELECT {_COLUMNS} FROM web_users WHERE id = ?", (user_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFound("user_not_found", f"no user {user_id}", id=user_id)
        return _user(row)

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def setup_first_admin(self, actor: Actor, username: str, password: str) -> User:
        """Create the first admin; refused once any admin exists (no default password ever)."""
        rules.username(username)
        rules.password(password, username)
        hashed = await self._hash(password)

        def go(conn: sqlite3.Connection) -> User:
            if conn.execute("SELECT 1 FROM web_users WHERE role = 'admin' AND enabled = 1").fetchone():
                raise Conflict("setup_done", "an admin exists already; log in instead")
            return self._insert(conn, Actor(username, actor.source), username, hashed, Role.ADMIN, "setup")

        return await self._writer.run(go)

    async def create(self, actor: Actor, username: str, password: str, role: str) -> User:
        """Create a user with a role."""
        rules.username(username)
        rules.password(password, username)
        checked = rules.role(role)
        hashed = await self._hash(password)
        return await self._writer.run(lambda conn: self._insert(conn, actor, username, hashed, checked, "user.create"))

    def _insert(self, conn: sqlite3.Connection, actor: Actor, username: str, hashed: str, role: Role,
                action: str) -> User:
        try:
            cur = conn.execute(
                "INSERT INTO web_users(username, password_hash, role) VALUES (?, ?, ?)", (username, hashed, role.value)
            )
        except sqlite3.IntegrityError:
            raise Conflict("username_taken", f"user {username!r} exists", field="username") from None
        audit.record(conn, self._clock, actor, action, username, role=role.value)
        return User(int(cur.lastrowid or 0), username, role, True, False)

    async def update(self, actor: Actor, user_id: int, *, role: str | None = None, enabled: bool | None = None,
                     password: str | None = None) -> User:
        """Change role, enabled flag or password; the last enabled admin stays an enabled admin."""
        current = await self.get(user_id)
        new_role = rules.role(role) if role is not None else current.role
        if password is not None:
            rules.password(password, current.username)
        hashed = await self._hash(password) if password is not None else None
        new_enabled = current.enabled if enabled is None else enabled

        def go(conn: sqlite3.Connection) -> User:
            row = conn.execute(f"SELECT {_COLUMNS} FROM web_users WHERE id = ?", (user_id,)).fetchone()
            if row is None:
                raise NotFound("user_not_found", f"no user {user_id}", id=user_id)
            if (new_role is not Role.ADMIN or not new_enabled) and self._is_last_admin(conn, user_id):
                raise Conflict("last_admin", "the last enabled admin must stay an enabled admin")
            conn.execute("UPDATE web_users SET role = ?, enabled = ? WHERE id = ?",
                         (new_role.value, int(new_enabled), user_id))
            changed: dict[str, object] = {"role": new_role.value, "enabled": new_enabled}
            if hashed is not None:
                conn.execute("UPDATE web_users SET password_hash = ? WHERE id = ?", (hashed, user_id))
                conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,))
                changed["password"] = "changed"
            if not new_enabled:
                conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,))
            audit.record(conn, self._clock, actor, "user.update", str(row[1]), **changed)
            return User(user_id, str(row[1]), new_role, new_enabled, bool(row[4]))

        return await self._writer.run(go)

    @staticmethod
    def _is_last_admin(conn: sqlite3.Connection, user_id: int) -> bool:
        admins = [r[0] for r in conn.execute("SELECT id FROM web_users WHERE role = 'admin' AND enabled = 1")]
        return admins == [user_id]

    async def delete(self, actor: Actor, user_id: int) -> None:
        """Delete a user (and their sessions); never the last enabled admin."""

        def go(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT username FROM web_users WHERE id = ?", (user_id,)).fetchone()
            if row is None:
                raise NotFound("user_not_found", f"no user {user_id}", id=user_id)
            if self._is_last_admin(conn, user_id):
                raise Conflict("last_admin", "the last enabled admin cannot be deleted")
            conn.execute("DELETE FROM web_users WHERE id = ?", (user_id,))
            audit.record(conn, self._clock, actor, "user.delete", str(row[0]))

        await self._writer.run(go)

    async def verify(self, username: str, password: str) -> User | None:
        """The enabled user whose password this is, or None (same work whether the name exists or not)."""
        async with self._db.execute(
            f"SELECT {_COLUMNS}, password_hash FROM web_users WHERE username = ?", (username,)
        ) as cur:
            row = await cur.fetchone()
        stored = str(row[5]) if row else self._dummy
        try:
            await asyncio.to_thread(self._hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row[3]:
            return None
        return _user(row)

    async def issue_token(self, actor: Actor, user_id: int) -> str:
        """Give a user a new API bearer token (shown once; the old one stops working)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)

        def go(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT username FROM web_users WHERE id = ?", (user_id,)).fetchone()
            if row is None:
                raise NotFound("user_not_found", f"no user {user_id}", id=user_id)
            conn.execute("UPDATE web_users SET token_hash = ? WHERE id = ?", (token_hash(token), user_id))
            audit.record(conn, self._clock, actor, "user.token", str(row[0]))

        await self._writer.run(go)
        return token

    async def by_token(self, token: str) -> User | None:
        """The enabled user holding this bearer token, or None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        async with self._db.execute(
            f"SELECT {_COLUMNS} FROM web_users WHERE token_hash = ? AND enabled = 1", (token_hash(token),)
        ) as cur:
            row = await cur.fetchone()
        return _user(row) if row else None

