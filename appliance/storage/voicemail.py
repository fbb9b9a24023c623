"""Mailboxes and voicemail messages as stored (one writer: the voicemail service)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from appliance.domain.clock import iso

_HASHER = PasswordHasher()


def hash_pin(pin: str) -> str:
    """An argon2 hash of a mailbox PIN (the PIN itself is never stored)."""
    return _HASHER.hash(pin)


def pin_matches(pin_hash: str, pin: str) -> bool:
    """True when `pin` is the PIN behind `pin_hash`."""
    try:
        return _HASHER.verify(pin_hash, pin)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class MailboxRow:
    """A mailbox's settings."""

    mailbox: str
    pin_hash: str | None = None
    greeting: str | None = None
    language: str = "en"
    failed_pins: int = 0
    locked_until: str | None = None


@dataclass(frozen=True)
class MessageRow:
    """One voicemail message."""

    id: int
    mailbox: str
    caller: str
    call_id: str
    started_at: str
    duration_s: float
    path: str
    heard: bool
    state: str


_MSG_COLS = "id, mailbox, caller, call_id, started_at, duration_s, path, heard, state"


def _msg(r: aiosqlite.Row) -> MessageRow:
    return MessageRow(r[0], r[1], r[2], r[3], r[4], float(r[5]), r[6], bool(r[7]), r[8])


class VoicemailStore:
    """Reader and writer of mailboxes and voicemails."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def mailbox(self, mailbox: str) -> MailboxRow:
        """A mailbox's settings (defaults when it has none stored)."""
        async with self._db.execute(
            "SELECT mailbox, pin_hash, greeting, language, failed_pins, locked_until FROM mailboxes"
            " WHERE mailbox = ?", (mailbox,)
        ) as cur:
            r = await cur.fetchone()
        return MailboxRow(mailbox) if r is None else MailboxRow(*r)

    async def mailboxes(self) -> list[MailboxRow]:
        """Every mailbox with stored settings."""
        async with self._db.execute(
            "SELECT mailbox, pin_hash, greeting, language, failed_pins, locked_until FROM mailboxes ORDER BY mailbox"
        ) as cur:
            return [MailboxRow(*r) for r in await cur.fetchall()]

    async def set_pin(self, mailbox: str, pin_hash: str) -> None:
        """Set a mailbox's PIN hash and clear its failed attempts."""
        await self._db.execute(
            "INSERT INTO mailboxes(mailbox, pin_hash) VALUES (?, ?) ON CONFLICT(mailbox) DO UPDATE"
            " SET pin_hash = excluded.pin_hash, failed_pins = 0, locked_until = NULL",
            (mailbox, pin_hash),
        )

    async def set_settings(self, mailbox: str, *, language: str, greeting: str | None) -> None:
        """Set a mailbox's prompt language and recorded greeting (None: the spoken default)."""
        await self._db.execute(
            "INSERT INTO mailboxes(mailbox, language, greeting) VALUES (?, ?, ?) ON CONFLICT(mailbox) DO UPDATE"
            " SET language = excluded.language, greeting = excluded.greeting",
            (mailbox, language, greeting),
        )

    async def set_greeting(self, mailbox: str, greeting: str | None) -> None:
        """Set (or clear, with None) a mailbox's recorded greeting, a path under the data dir."""
        await self._db.execute(
            "INSERT INTO mailboxes(mailbox, greeting) VALUES (?, ?) ON CONFLICT(mailbox) DO UPDATE"
            " SET greeting = excluded.greeting",
            (mailbox, greeting),
        )

    async def pin_failed(self, mailbox: str, locked_until: datetime | None) -> int:
        """Count a wrong PIN (and lock when `locked_until` is given); return the failures in a row."""
        await self._db.execute(
            "INSERT INTO mailboxes(mailbox, failed_pins) VALUES (?, 1) ON CONFLICT(mailbox) DO UPDATE"
            " SET failed_pins = failed_pins + 1", (mailbox,)
        )
        if locked_until is not None:
            await self._db.execute(
                "UPDATE mailboxes SET locked_until = ?, failed_pins = 0 WHERE mailbox = ?", (iso(locked_until), mailbox)
            )
        return (await self.mailbox(mailbox)).failed_pins

    async def pin_ok(self, mailbox: str) -> None:
        """A right PIN: forget the failures."""
        await self._db.execute(
            "UPDATE mailboxes SET failed_pins = 0, locked_until = NULL WHERE mailbox = ?", (mailbox,)
        )

    async def start_message(self, mailbox: str, caller: str, call_id: str, started: datetime, path: str) -> int:
        """Write the row of a message about to be recorded (before any audio: a crash loses nothing)."""
        cur = await self._db.execute(
            "INSERT INTO voicemails(mailbox, caller, call_id, started_at, path, state)"
            " VALUES (?, ?, ?, ?, ?, 'recording')",
            (mailbox, caller, call_id, iso(started), path),
        )
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    async def finish_message(self, message_id: int, duration_s: float) -> None:
        """The message's file is closed: it is ready to be heard."""
        await self._db.execute(
            "UPDATE voicemails SET duration_s = ?, state = 'ready' WHERE id = ?", (round(duration_s, 3), message_id)
        )

    async def drop_message(self, message_id: int) -> None:
        """Remove a message row (an empty recording, or deleted by its owner)."""
        await self._db.execute("DELETE FROM voicemails WHERE id = ?", (message_id,))

    async def unfinished(self) -> list[MessageRow]:
        """Messages a crash left in state 'recording'."""
        async with self._db.execute(f"SELECT {_MSG_COLS} FROM voicemails WHERE state = 'recording'") as cur:
            return [_msg(r) for r in await cur.fetchall()]

    async def messages(self, mailbox: str) -> list[MessageRow]:
        """A mailbox's ready messages: new ones first, each group oldest first."""
        async with self._db.execute(
            f"SELECT {_MSG_COLS} FROM voicemails WHERE mailbox = ? AND state = 'ready' ORDER BY heard, id", (mailbox,)
        ) as cur:
            return [_msg(r) for r in await cur.fetchall()]

    async def message(self, message_id: int) -> MessageRow | None:
        """One message or None."""
        async with self._db.execute(f"SELECT {_MSG_COLS} FROM voicemails WHERE id = ?", (message_id,)) as cur:
            r = await cur.fetchone()
        return None if r is None else _msg(r)

    async def mark_heard(self, message_id: int) -> None:
        """The owner listened to the message."""
        await self._db.execute("UPDATE voicemails SET heard = 1 WHERE id = ?", (message_id,))

    async def counts(self, mailbox: str) -> tuple[int, int]:
        """(new, old) ready messages in a mailbox."""
        async with self._db.execute(
            "SELECT COALESCE(SUM(heard = 0), 0), COALESCE(SUM(heard = 1), 0) FROM voicemails"
            " WHERE mailbox = ? AND state = 'ready'", (mailbox,)
        ) as cur:
            r = await cur.fetchone()
        assert r is not None
        return int(r[0]), int(r[1])
