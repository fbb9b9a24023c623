"""SMS channel storage: conversations, messages, the block list, settings, modem events.

Each operation runs whole in one `BEGIN IMMEDIATE` transaction on the store's own sqlite3
connection, off the event loop (the controller's shared aiosqlite connection carries CDR
writes that must not be swept into these transactions). The controller is the only writer.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from appliance.domain.errors import DomainError
from appliance.messaging.conversation import ConversationState, NotYourConversation, transition
from appliance.messaging.optout import RecipientOptedOut

T = TypeVar("T")


class ConversationNotFound(DomainError):
    """No conversation with that id."""


class ConversationClosed(DomainError):
    """The conversation is closed: nothing more can be sent in it."""


@dataclass(frozen=True)
class Received:
    """Where an inbound message went."""

    message_id: int
    conversation_id: int
    duplicate: bool  # the bridge sent it before: nothing was written


@dataclass(frozen=True)
class ConversationRow:
    """A conversation as stored."""

    id: int
    number: str
    state: str
    agent: str | None
    queue: str | None
    opened_at: str
    closed_at: str | None
    last_message_at: str
    unanswered: int  # inbound messages after the last outbound one


@dataclass(frozen=True)
class MessageRow:
    """A message as stored."""

    id: int
    conversation_id: int
    direction: str
    number: str
    body: str
    at: str
    status: str
    agent: str | None
    parts: int
    missing: list[int]
    error: str | None


@dataclass(frozen=True)
class Outbound:
    """A message handed to the bridge to send."""

    id: int
    number: str
    body: str
    attempt: int


_CONV = ("SELECT c.id, c.number, c.state, c.agent, c.queue, c.opened_at, c.closed_at, c.last_message_at,"
         " (SELECT count(*) FROM sms_messages m WHERE m.conversation_id = c.id AND m.direction = 'in'"
         "  AND m.id > COALESCE((SELECT max(o.id) FROM sms_messages o WHERE o.conversation_id = c.id"
         "  AND o.direction = 'out'), 0)) FROM sms_conversations c")
_MSG = ("SELECT id, conversation_id, direction, number, body, at, status, agent, parts, missing, error"
        " FROM sms_messages")


def _conv(row: Any) -> ConversationRow:
    return ConversationRow(*row)


def _msg(row: Any) -> MessageRow:
    r = list(row)
    r[9] = json.loads(r[9]) if r[9] else []
    return MessageRow(*r)


class MessagingStore:
    """Writer and reader of the SMS tables."""

    def __init__(self, db_path: Path) -> None:
        self._conn = sqlite3.connect(db_path, isolation_level=None, timeout=5.0, check_same_thread=False)
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._lock = threading.Lock()

    def shutdown(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return result

    async def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._run, fn)

    # --- inbound ---------------------------------------------------------------------

    async def receive(self, link_id: str, number: str, body: str, at: str, parts: int = 1,
                      missing: tuple[int, ...] = ()) -> Received:
        """Store an inbound message in the number's open conversation (opening one); once per link id."""

        def go(c: sqlite3.Connection) -> Received:
            dup = c.execute("SELECT id, conversation_id FROM sms_messages WHERE link_id = ?", (link_id,)).fetchone()
            if dup is not None:
                return Received(int(dup[0]), int(dup[1]), True)
            conv = c.execute("SELECT id FROM sms_conversations WHERE number = ? AND state != 'closed'",
                             (number,)).fetchone()
            if conv is None:
                cur = c.execute("INSERT INTO sms_conversations(number, state, opened_at, last_message_at)"
                                " VALUES (?, 'waiting', ?, ?)", (number, at, at))
                conv_id = int(cur.lastrowid or 0)
            else:
                conv_id = int(conv[0])
                c.execute("UPDATE sms_conversations SET last_message_at = ? WHERE id = ?", (at, conv_id))
            cur = c.execute(
                "INSERT INTO sms_messages(conversation_id, direction, number, body, at, status, link_id, parts,"
                " missing, updated_at) VALUES (?, 'in', ?, ?, ?, 'received', ?, ?, ?, ?)",
                (conv_id, number, body, at, link_id, parts, json.dumps(list(missing)) if missing else None, at))
            return Received(int(cur.lastrowid or 0), conv_id, False)

        return await self._tx(go)

    # --- block list ------------------------------------------------------------------

    async def block(self, number: str, keyword: str, at: str, message_id: int | None = None) -> bool:
        """Put a number on the block list; False if it was there already."""

        def go(c: sqlite3.Connection) -> bool:
            cur = c.execute("INSERT OR IGNORE INTO sms_blocklist(number, since, keyword, message_id)"
                            " VALUES (?, ?, ?, ?)", (number, at, keyword, message_id))
            return cur.rowcount > 0

        return await self._tx(go)

    async def unblock(self, number: str) -> bool:
        """Take a number off the block list; False if it was not on it."""
        return await self._tx(lambda c: c.execute("DELETE FROM sms_blocklist WHERE number = ?",
                                                  (number,)).rowcount > 0)

    async def blocklist(self) -> list[dict[str, Any]]:
        """Every blocked number with when and why."""
        rows = await self._tx(lambda c: c.execute(
            "SELECT number, since, keyword FROM sms_blocklist ORDER BY since, number").fetchall())
        return [{"number": r[0], "since": r[1], "keyword": r[2]} for r in rows]

    # --- routing ---------------------------------------------------------------------

    async def open_conversations(self) -> list[ConversationRow]:
        """Conversations not closed, oldest first."""
        return await self._tx(lambda c: [_conv(r) for r in c.execute(
            _CONV + " WHERE c.state != 'closed' ORDER BY c.id").fetchall()])

    async def set_route(self, conv_id: int, state: ConversationState, agent: str | None,
                        queue: str | None) -> None:
        """Record a routing decision (the state machine checks the move)."""

        def go(c: sqlite3.Connection) -> None:
            row = c.execute("SELECT state FROM sms_conversations WHERE id = ?", (conv_id,)).fetchone()
            if row is None:
                raise ConversationNotFound(f"no conversation {conv_id}")
            transition(ConversationState(row[0]), state)
            c.execute("UPDATE sms_conversations SET state = ?, agent = ?, queue = COALESCE(?, queue)"
                      " WHERE id = ?", (state.value, agent, queue, conv_id))

        await self._tx(go)

    # --- the agent's side ------------------------------------------------------------

    async def conversations(self, agent: str | None, *, closed: bool = False) -> list[ConversationRow]:
        """An agent's conversations (all agents' with agent=None), newest activity first."""
        where, args = ["1=1"], []
        if agent is not None:
            where.append("c.agent = ?")
            args.append(agent)
        if not closed:
            where.append("c.state != 'closed'")
        sql = _CONV + " WHERE " + " AND ".join(where) + " ORDER BY c.last_message_at DESC, c.id DESC LIMIT 500"
        return await self._tx(lambda c: [_conv(r) for r in c.execute(sql, args).fetchall()])

    async def conversation(self, conv_id: int) -> ConversationRow:
        """One conversation."""
        row = await self._tx(lambda c: c.execute(_CONV + " WHERE c.id = ?", (conv_id,)).fetchone())
        if row is None:
            raise ConversationNotFound(f"no conversation {conv_id}")
        return _conv(row)

    async def messages(self, conv_id: int) -> list[MessageRow]:
        """A conversation's messages, oldest first."""
        return await self._tx(lambda c: [_msg(r) for r in c.execute(
            _MSG + " WHERE conversation_id = ? ORDER BY id", (conv_id,)).fetchall()])

    async def history(self, number: str, limit: int = 200) -> list[MessageRow]:
        """Every message to or from a number (the agent desk's caller history), newest first."""
        return await self._tx(lambda c: [_msg(r) for r in c.execute(
            _MSG + " WHERE number = ? ORDER BY id DESC LIMIT ?", (number, limit)).fetchall()])

    def _mine(self, c: sqlite3.Connection, conv_id: int, agent: str | None) -> tuple[str, str]:
        row = c.execute("SELECT state, agent, number FROM sms_conversations WHERE id = ?", (conv_id,)).fetchone()
        if row is None:
            raise ConversationNotFound(f"no conversation {conv_id}")
        if row[0] == "closed":
            raise ConversationClosed(f"conversation {conv_id} is closed")
        if agent is not None and row[1] != agent:
            raise NotYourConversation(f"conversation {conv_id} is handled by {row[1] or 'nobody yet'}")
        return str(row[0]), str(row[2])

    async def queue_reply(self, conv_id: int, agent: str | None, body: str, at: str, sender: str) -> int:
        """Queue an outbound message in the conversation; refused (nothing written) for a blocked number."""

        def go(c: sqlite3.Connection) -> int:
            _, number = self._mine(c, conv_id, agent)
            if c.execute("SELECT 1 FROM sms_blocklist WHERE number = ?", (number,)).fetchone():
                raise RecipientOptedOut(number)
            cur = c.execute(
                "INSERT INTO sms_messages(conversation_id, direction, number, body, at, status, agent, updated_at)"
                " VALUES (?, 'out', ?, ?, ?, 'queued', ?, ?)", (conv_id, number, body, at, sender, at))
            c.execute("UPDATE sms_conversations SET last_message_at = ? WHERE id = ?", (at, conv_id))
            return int(cur.lastrowid or 0)

        return await self._tx(go)

    async def close_conversation(self, conv_id: int, agent: str | None, at: str) -> None:
        """Close the conversation (its agent, or a supervisor with agent=None)."""

        def go(c: sqlite3.Connection) -> None:
            state, _ = self._mine(c, conv_id, agent)
            transition(ConversationState(state), ConversationState.CLOSED)
            c.execute("UPDATE sms_conversations SET state = 'closed', closed_at = ? WHERE id = ?", (at, conv_id))

        await self._tx(go)

    # --- the bridge's side -----------------------------------------------------------

    async def claim_outbound(self, at: str, stale_before: str, limit: int = 10) -> list[Outbound]:
        """Hand queued messages (and ones claimed before `stale_before`) to the bridge, oldest first."""

        def go(c: sqlite3.Connection) -> list[Outbound]:
            rows = c.execute(
                "SELECT id, number, body, attempts FROM sms_messages WHERE direction = 'out' AND"
                " (status = 'queued' OR (status = 'sending' AND claimed_at < ?)) ORDER BY id LIMIT ?",
                (stale_before, limit)).fetchall()
            out: list[Outbound] = []
            for mid, number, body, attempts in rows:
                if c.execute("SELECT 1 FROM sms_blocklist WHERE number = ?", (number,)).fetchone():
                    c.execute("UPDATE sms_messages SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
                              (f"{number} opted out before it was sent", at, mid))
                    continue
                c.execute("UPDATE sms_messages SET status = 'sending', claimed_at = ?, attempts = attempts + 1,"
                          " updated_at = ? WHERE id = ?", (at, at, mid))
                out.append(Outbound(int(mid), str(number), str(body), int(attempts) + 1))
            return out

        return await self._tx(go)

    async def sent(self, message_id: int, refs: list[int], at: str) -> bool:
        """The modem accepted the message (one TP-MR per part); False if it was not being sent."""
        return await self._tx(lambda c: c.execute(
            "UPDATE sms_messages SET status = 'sent', refs = ?, error = NULL, updated_at = ?"
            " WHERE id = ? AND direction = 'out' AND status = 'sending'",
            (json.dumps(refs), at, message_id)).rowcount > 0)

    async def send_failed(self, message_id: int, error: str, at: str, *, retry: bool, max_attempts: int) -> str:
        """Sending failed: back to the queue while attempts remain and `retry`, else failed; the new status."""

        def go(c: sqlite3.Connection) -> str:
            row = c.execute("SELECT attempts FROM sms_messages WHERE id = ? AND direction = 'out'"
                            " AND status = 'sending'", (message_id,)).fetchone()
            if row is None:
                return "unknown"
            status = "queued" if retry and int(row[0]) < max_attempts else "failed"
            c.execute("UPDATE sms_messages SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                      (status, error, at, message_id))
            return status

        return await self._tx(go)

    async def report(self, reference: int, recipient: str, status: int, delivered: bool, at: str) -> int | None:
        """Apply a delivery report to the newest sent message with that TP-MR to that number."""

        def go(c: sqlite3.Connection) -> int | None:
            rows = c.execute("SELECT id, refs, reports FROM sms_messages WHERE direction = 'out' AND number = ?"
                             " AND status IN ('sent', 'delivered', 'failed') AND refs IS NOT NULL"
                             " ORDER BY id DESC LIMIT 50", (recipient,)).fetchall()
            for mid, refs_json, reports_json in rows:
                refs = [int(r) for r in json.loads(refs_json)]
                if reference not in refs:
                    continue
                reports = {int(k): int(v) for k, v in json.loads(reports_json or "{}").items()}
                reports[reference] = 0 if delivered else status
                if any(v != 0 for v in reports.values()):
                    new = "failed"
                elif all(r in reports for r in refs):
                    new = "delivered"
                else:
                    new = "sent"
                c.execute("UPDATE sms_messages SET reports = ?, status = ?, error = ?, updated_at = ? WHERE id = ?",
                          (json.dumps(reports), new, None if new != "failed" else f"delivery report TP-ST {status}",
                           at, mid))
                return int(mid)
            return None

        return await self._tx(go)

    # --- settings and modem events ---------------------------------------------------

    async def sms_queue(self) -> str | None:
        """The queue configured for SMS (None: not set)."""
        row = await self._tx(lambda c: c.execute("SELECT queue FROM sms_settings WHERE id = 1").fetchone())
        return None if row is None or row[0] is None else str(row[0])

    async def set_sms_queue(self, queue: str | None) -> None:
        """Configure the queue whose agents answer SMS."""
        await self._tx(lambda c: c.execute("UPDATE sms_settings SET queue = ? WHERE id = 1", (queue,)))

    async def modem_event(self, at: str, type_: str, data: dict[str, Any]) -> None:
        """Record a modem health event (state, registration or SIM change)."""
        await self._tx(lambda c: c.execute("INSERT INTO modem_events(at, type, data) VALUES (?, ?, ?)",
                                           (at, type_, json.dumps(data, sort_keys=True))))

    async def outbound_waiting(self) -> int:
        """Outbound messages queued or being sent."""
        row = await self._tx(lambda c: c.execute(
            "SELECT count(*) FROM sms_messages WHERE direction = 'out' AND status IN ('queued', 'sending')"
        ).fetchone())
        return int(row[0])

    async def counts(self) -> dict[str, int]:
        """Conversations by state."""
        rows = await self._tx(lambda c: c.execute(
            "SELECT state, count(*) FROM sms_conversations GROUP BY state").fetchall())
        return {str(s): int(n) for s, n in rows}
