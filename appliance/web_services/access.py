"""Logging in and out: server-side sessions with a CSRF token each, rate limited with lockout."""

from __future__ import annotations

import math
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import timedelta

import aiosqlite

from appliance.domain.clock import Clock, iso
from appliance.web_services import audit
from appliance.web_services.audit import Actor
from appliance.web_services.errors import Locked, Unauthenticated
from appliance.web_services.rules import Role
from appliance.web_services.throttle import LoginThrottle
from appliance.web_services.tx import Writer
from appliance.web_services.users import User, UserService, token_hash

SESSION_HOURS = 12


@dataclass(frozen=True)
class Session:
    """A logged-in browser: who, and the CSRF token its forms must echo."""

    user: User
    csrf: str


@dataclass(frozen=True)
class NewSession:
    """A session just opened: the cookie value is shown to the browser only."""

    token: str
    session: Session


class AccessService:
    """Checks passwords, opens and closes sessions, and locks out password guessers."""

    def __init__(
        self, db: aiosqlite.Connection, writer: Writer, clock: Clock, users: UserService,
        per_user: LoginThrottle | None = None, per_source: LoginThrottle | None = None,
    ) -> None:
        self._db = db
        self._writer = writer
        self._clock = clock
        self.users = users
        self.per_user = per_user or LoginThrottle(max_failures=5, window_s=300, lockout_s=900)
        self.per_source = per_source or LoginThrottle(max_failures=20, window_s=300, lockout_s=900)

    async def login(self, username: str, password: str, source: str) -> NewSession:
        """Open a session for a right password; count a wrong one; refuse while locked out."""
        now = self._clock.monotonic()
        user_key, source_key = username.lower(), source
        wait = max(self.per_user.retry_after(user_key, now), self.per_source.retry_after(source_key, now))
        if wait > 0:
            await self._audit(Actor(username, source), "login.locked")
            raise Locked("login_locked", "too many failed logins; try again later",
                         retry_after_s=math.ceil(wait))
        user = await self.users.verify(username, password)
        if user is None:
            locked = self.per_user.failed(user_key, now) | self.per_source.failed(source_key, now)
            self.per_user.prune(now)
            self.per_source.prune(now)
            await self._audit(Actor(username, source), "login.failed", locked=locked)
            raise Unauthenticated("login_failed", "wrong username or password")
        self.per_user.succeeded(user_key)
        self.per_source.succeeded(source_key)
        return await self._open(user, source)

    async def open_for(self, user: User, source: str) -> NewSession:
        """Open a session for a user who just proved themself another way (first-visit setup)."""
        return await self._open(user, source)

    async def _open(self, user: User, source: str) -> NewSession:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        now = self._clock.now()

        def go(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (iso(now),))
            conn.execute(
                "INSERT INTO web_sessions(token_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (token_hash(token), user.id, csrf, iso(now), iso(now + timedelta(hours=SESSION_HOURS))),
            )
            audit.record(conn, self._clock, Actor(user.username, source), "login.ok", role=user.role.value)

        await self._writer.run(go)
        return NewSession(token, Session(user, csrf))

    async def session(self, token: str) -> Session | None:
        """The live session of this cookie value, or None (expired, logged out, user disabled)."""
        async with self._db.execute(
            "SELECT u.id, u.username, u.role, u.enabled, u.token_hash IS NOT NULL, s.csrf"
            " FROM web_sessions s JOIN web_users u ON u.id = s.user_id"
            " WHERE s.token_hash = ? AND s.expires_at > ? AND u.enabled = 1",
            (token_hash(token), iso(self._clock.now())),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return Session(User(int(row[0]), str(row[1]), Role(row[2]), bool(row[3]), bool(row[4])), str(row[5]))

    async def logout(self, token: str, actor: Actor) -> None:
        """Close the session of this cookie value."""

        def go(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash(token),))
            audit.record(conn, self._clock, actor, "logout")

        await self._writer.run(go)

    async def _audit(self, actor: Actor, action: str, **detail: object) -> None:
        await self._writer.run(lambda conn: audit.record(conn, self._clock, actor, action, "", **detail))


def require_session(session: Session | None) -> Session:
    """The session, or an `Unauthenticated` error."""
    if session is None:
        raise Unauthenticated("not_logged_in", "log in first")
    return session
