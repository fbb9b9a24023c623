"""The agent desk: a web user linked to an extension logs in/out of queues and pauses.

Commands go through `QueueService.agent_command` with the same feature codes a desk phone
dials (*45, *46, *47 + reason digit, *48), so routing, the event log and the wallboard see
one agent state whichever way the agent acted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiosqlite

from appliance.domain.clock import Clock
from appliance.domain.errors import DomainError
from appliance.web_services import audit
from appliance.web_services.audit import Actor
from appliance.web_services.errors import Conflict, Invalid, NotFound
from appliance.web_services.tx import Writer

if TYPE_CHECKING:
    from appliance.controller.queues import QueueService

ACTIONS = ("login", "logout", "pause", "unpause")


@dataclass(frozen=True)
class DeskState:
    """What the desk shows the agent."""

    extension: str | None
    state: str
    reason: str
    time_in_state_s: float
    queues: list[str]
    reasons: list[str]


class AgentDesk:
    """Links users to extensions and carries out their queue commands."""

    def __init__(self, db: aiosqlite.Connection, writer: Writer, clock: Clock,
                 queues: Callable[[], QueueService]) -> None:
        self._db = db
        self._writer = writer
        self._clock = clock
        self._queues = queues

    async def extension_of(self, user_id: int) -> str | None:
        """The extension linked to this user, if any."""
        async with self._db.execute("SELECT extension FROM web_user_extensions WHERE user_id = ?",
                                    (user_id,)) as cur:
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def link(self, actor: Actor, user_id: int, extension: str | None) -> str | None:
        """Link a user to an extension (None unlinks); audited. Refusals change nothing."""

        def go(conn: sqlite3.Connection) -> None:
            user = conn.execute("SELECT username FROM web_users WHERE id = ?", (user_id,)).fetchone()
            if user is None:
                raise NotFound("user_not_found", f"no user {user_id}", id=user_id)
            if extension is None:
                conn.execute("DELETE FROM web_user_extensions WHERE user_id = ?", (user_id,))
                audit.record(conn, self._clock, actor, "user.extension", str(user[0]), extension=None)
                return
            if conn.execute("SELECT 1 FROM extensions WHERE number = ?", (extension,)).fetchone() is None:
                raise Invalid("extension_not_found", f"no extension {extension}", field="extension")
            other = conn.execute(
                "SELECT u.username FROM web_user_extensions l JOIN web_users u ON u.id = l.user_id"
                " WHERE l.extension = ? AND l.user_id != ?", (extension, user_id)).fetchone()
            if other is not None:
                raise Conflict("extension_linked", f"extension {extension} is linked to {other[0]}",
                               field="extension", linked_to=str(other[0]))
            conn.execute("INSERT INTO web_user_extensions(user_id, extension) VALUES (?, ?)"
                         " ON CONFLICT(user_id) DO UPDATE SET extension = excluded.extension",
                         (user_id, extension))
            audit.record(conn, self._clock, actor, "user.extension", str(user[0]), extension=extension)

        await self._writer.run(go)
        return extension

    def reasons(self) -> list[str]:
        """Pause reasons in the order of their feature-code digits."""
        codes = self._queues().codes
        return [codes.reasons[d] for d in sorted(codes.reasons)]

    async def state(self, user_id: int) -> DeskState:
        """The linked agent's state now (logged_out with no queues when not linked or not a member)."""
        ext = await self.extension_of(user_id)
        service = self._queues()
        agent = service.dispatcher.agents.get(ext) if ext else None
        queues = sorted(n for n, row in service.rows.items() if ext in row.members) if ext else []
        if agent is None:
            return DeskState(ext, "logged_out", "", 0.0, queues, self.reasons())
        return DeskState(ext, agent.state.value, agent.pause_reason, round(agent.time_in_state(), 1), queues,
                         self.reasons())

    async def command(self, user_id: int, action: str, reason: str = "") -> DeskState:
        """Log in, log out, pause (with a known reason) or unpause the user's agent."""
        service = self._queues()
        codes = service.codes
        if action not in ACTIONS:
            raise Invalid("action_unknown", f"unknown action {action!r}", field="action", known=list(ACTIONS))
        ext = await self.extension_of(user_id)
        if ext is None:
            raise Conflict("no_extension", "your user is not linked to an extension; ask an admin")
        if ext not in service.dispatcher.agents:
            raise Conflict("not_a_queue_member", f"extension {ext} is not a member of any queue", extension=ext)
        if action == "pause":
            digit = next((d for d, name in codes.reasons.items() if name == reason), None)
            if digit is None:
                raise Invalid("reason_unknown", f"unknown pause reason {reason!r}", field="reason",
                              known=self.reasons())
            dialed = codes.pause + digit
        else:
            dialed = {"login": codes.login, "logout": codes.logout, "unpause": codes.unpause}[action]
        try:
            await service.agent_command(ext, dialed)
        except DomainError as exc:
            raise Conflict("agent_state", str(exc), action=action,
                           state=service.dispatcher.agents[ext].state.value) from None
        return await self.state(user_id)
