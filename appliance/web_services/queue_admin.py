"""Queues as the admin creates and lists them: validated like the ACD loads them, live at once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from appliance.controller.queues import queue_from_row
from appliance.domain.clock import Clock
from appliance.domain.errors import DomainError
from appliance.storage.queues import QueueRow, row_values
from appliance.web_services import audit, rules
from appliance.web_services.audit import Actor
from appliance.web_services.directory_admin import require_free_number
from appliance.web_services.errors import Invalid
from appliance.web_services.tx import Writer

if TYPE_CHECKING:
    from appliance.controller.queues import QueueService
    from appliance.controller.sessions import SessionManager

MAX_MEMBERS = 200


class QueueAdmin:
    """Create and list queues; a created queue takes calls at once (the dial plan learns its number)."""

    def __init__(self, writer: Writer, clock: Clock, service: Callable[[], QueueService],
                 sessions: Callable[[], SessionManager]) -> None:
        self._writer = writer
        self._clock = clock
        self._service = service
        self._sessions = sessions

    def queues(self) -> list[QueueRow]:
        """The queues the ACD runs, by number."""
        return [self._service().rows[n] for n in sorted(self._service().rows)]

    async def create(self, actor: Actor, row: QueueRow) -> QueueRow:
        """Validate, store (audited) and load a new queue; refusals write nothing."""
        rules.number(row.number)
        rules.display_name(row.name, "name")
        if not row.members or len(row.members) > MAX_MEMBERS:
            raise Invalid("members_invalid", f"a queue has 1 to {MAX_MEMBERS} members", field="members")
        if len(set(row.members)) != len(row.members):
            raise Invalid("duplicate_member", "a member appears twice", field="members")
        try:
            queue_from_row(row)  # every rule the ACD applies when it loads a queue
        except DomainError as exc:
            raise Invalid("queue_invalid", str(exc)) from None

        def go(conn: sqlite3.Connection) -> None:
            require_free_number(conn, row.number)
            known = {str(r[0]) for r in conn.execute("SELECT number FROM extensions")}
            unknown = [m for m in row.members if m not in known]
            if unknown:
                raise Invalid("unknown_member", "members must be existing extensions", field="members",
                              unknown=unknown)
            values = row_values(row)
            conn.execute(f"INSERT INTO queues({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                         tuple(values.values()))
            conn.executemany("INSERT INTO queue_members(queue, position, extension) VALUES (?, ?, ?)",
                             [(row.number, i, m) for i, m in enumerate(row.members)])
            audit.record(conn, self._clock, actor, "queue.create", row.number, name=row.name,
                         members=list(row.members), strategy=row.strategy)

        await self._writer.run(go)
        service = self._service()
        service.configure([row])
        sessions = self._sessions()
        sessions.directory = sessions.directory  # the dial plan learns the queue's number
        await service.prompts.prepare(["queue-welcome"], row.language)
        return row
