"""The agent desk's call: the call offered or taken, the caller's history, and the wrap-up disposition."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiosqlite

from appliance.domain.clock import Clock, iso
from appliance.web_services import audit
from appliance.web_services.audit import Actor
from appliance.web_services.errors import Conflict, Invalid, NotFound
from appliance.web_services.tx import Writer

if TYPE_CHECKING:
    from appliance.controller.queues import QueueService

DISPOSITIONS = ("resolved", "follow_up", "callback", "escalated", "sale", "no_sale", "wrong_number", "other")
HISTORY_LIMIT = 20


@dataclass(frozen=True)
class DeskCall:
    """The agent's call now (offered, on call, wrap-up) or their last one, with the caller's history."""

    call_id: str
    number: str
    queue: str
    live: bool  # the agent is reserved for, talking on or wrapping up this call
    history: list[dict[str, Any]]  # previous calls of this number, newest first, with dispositions
    sms: list[dict[str, Any]]  # the number's newest SMS messages, when the SMS store exists
    dispositions: list[dict[str, Any]]  # given to this call already
    codes: tuple[str, ...] = DISPOSITIONS


class DeskCalls:
    """Reads the caller's history (CDRs, dispositions, SMS) and records dispositions."""

    def __init__(self, db: aiosqlite.Connection, writer: Writer, clock: Clock,
                 queues: Callable[[], QueueService]) -> None:
        self._db = db
        self._writer = writer
        self._clock = clock
        self._queues = queues

    async def _rows(self, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        async with self._db.execute(sql, args) as cur:
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, tuple(r), strict=True)) for r in await cur.fetchall()]

    async def _number_of(self, call_id: str) -> tuple[str, str]:
        rows = await self._rows("SELECT json_extract(data, '$.number') AS number, queue_id FROM queue_events"
                                " WHERE call_id = ? AND type = 'CallerJoined' ORDER BY id DESC LIMIT 1", (call_id,))
        if rows and rows[0]["number"]:
            return str(rows[0]["number"]), str(rows[0]["queue_id"])
        rows = await self._rows("SELECT caller FROM cdrs WHERE call_id = ?", (call_id,))
        return (str(rows[0]["caller"]) if rows else ""), ""

    async def current(self, extension: str) -> DeskCall | None:
        """The call the agent is on (or was last on), with the caller's earlier calls, notes and SMS."""
        agent = self._queues().dispatcher.agents.get(extension)
        call_id, live = (agent.call_id, True) if agent is not None and agent.call_id else ("", False)
        if not call_id:
            last = await self._rows("SELECT call_id FROM queue_events WHERE agent_id = ? AND type IN"
                                    " ('AgentAnswered', 'AgentReserved') ORDER BY id DESC LIMIT 1", (extension,))
            if not last:
                return None
            call_id = str(last[0]["call_id"])
        number, queue = await self._number_of(call_id)
        history = await self._rows(
            "SELECT call_id, started_at, caller, callee, answered_by, duration_s, cause FROM cdrs"
            " WHERE (caller = ? OR callee = ?) AND call_id != ? ORDER BY started_at DESC, id DESC LIMIT ?",
            (number, number, call_id, HISTORY_LIMIT)) if number else []
        notes = await self._rows(
            "SELECT call_id, agent, code, note, created_at FROM desk_dispositions WHERE number = ? OR call_id = ?"
            " ORDER BY id DESC LIMIT 200", (number, call_id))
        by_call: dict[str, list[dict[str, Any]]] = {}
        for n in notes:
            by_call.setdefault(str(n["call_id"]), []).append(n)
        for h in history:
            h["dispositions"] = by_call.get(str(h["call_id"]), [])
        earlier = {str(h["call_id"]) for h in history} | {call_id}
        # dispositions of this number's queue calls that left no CDR row of their own
        history += [{"call_id": c, "started_at": ns[0]["created_at"], "caller": number, "dispositions": ns}
                    for c, ns in by_call.items() if c not in earlier]
        return DeskCall(call_id, number, queue, live, history, await self._sms(number), by_call.get(call_id, []))

    async def _sms(self, number: str) -> list[dict[str, Any]]:
        async with self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sms_messages'") as c:
            if not number or await c.fetchone() is None:
                return []
        return await self._rows("SELECT direction, body, at, status FROM sms_messages WHERE number = ?"
                                " ORDER BY id DESC LIMIT 10", (number,))

    async def dispose(self, actor: Actor, extension: str | None, call_id: str, code: str,
                      note: str) -> dict[str, Any]:
        """Record the agent's disposition and note for a call they took; refusals write nothing."""
        if extension is None:
            raise Conflict("no_extension", "your user is not linked to an extension; ask an admin")
        if code not in DISPOSITIONS:
            raise Invalid("disposition_unknown", f"unknown disposition {code!r}", field="code",
                          known=list(DISPOSITIONS))
        if len(note) > 2000:
            raise Invalid("note_too_long", "a note is at most 2000 characters", field="note")
        took = await self._rows(
            "SELECT 1 AS ok FROM queue_events WHERE call_id = ? AND agent_id = ? AND type = 'AgentAnswered'"
            " UNION ALL SELECT 1 FROM cdrs WHERE call_id = ? AND answered_by = ? LIMIT 1",
            (call_id, extension, call_id, extension))
        if not took:
            known = await self._rows("SELECT 1 AS ok FROM queue_events WHERE call_id = ? UNION ALL"
                                     " SELECT 1 FROM cdrs WHERE call_id = ? LIMIT 1", (call_id, call_id))
            if not known:
                raise NotFound("call_not_found", f"no call {call_id}", call_id=call_id)
            raise Conflict("not_your_call", "only the agent who took a call gives its disposition", call_id=call_id)
        number, _queue = await self._number_of(call_id)
        at = iso(self._clock.now())

        def go(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO desk_dispositions(call_id, number, agent, extension, code, note, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", (call_id, number, actor.username, extension, code, note, at))
            audit.record(conn, self._clock, actor, "call.disposition", call_id, code=code)
            return int(cur.lastrowid or 0)

        row_id = await self._writer.run(go)
        return {"id": row_id, "call_id": call_id, "agent": actor.username, "code": code, "note": note,
                "created_at": at}
