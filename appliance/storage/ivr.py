"""IVR menus, DIDs and uploaded prompts as stored (one writer: the IVR feature services)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from appliance.domain.clock import iso


@dataclass(frozen=True)
class IvrRow:
    """One configured IVR: its number, name, prompt language and the menu configuration."""

    number: str
    name: str
    language: str
    config: dict[str, Any]


@dataclass(frozen=True)
class DidRow:
    """An inbound number (DNIS) and where its calls go ('queue:700', 'ivr:800', ...)."""

    did: str
    destination: str
    note: str = ""


@dataclass(frozen=True)
class CustomPromptRow:
    """An uploaded prompt, converted and stored under the data directory."""

    name: str
    language: str
    path: str
    duration_s: float
    size_bytes: int
    uploaded_at: str


class IvrStore:
    """Reader and writer of ivrs, dids and custom_prompts."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    # ----- IVRs -----

    async def ivrs(self) -> list[IvrRow]:
        """Every IVR, by number."""
        async with self._db.execute("SELECT number, name, language, config FROM ivrs ORDER BY number") as cur:
            return [IvrRow(r[0], r[1], r[2], json.loads(r[3])) for r in await cur.fetchall()]

    async def ivr(self, number: str) -> IvrRow | None:
        """One IVR or None."""
        async with self._db.execute(
            "SELECT number, name, language, config FROM ivrs WHERE number = ?", (number,)
        ) as cur:
            r = await cur.fetchone()
        return None if r is None else IvrRow(r[0], r[1], r[2], json.loads(r[3]))

    async def put_ivr(self, row: IvrRow, now: datetime) -> None:
        """Create or replace an IVR (the caller validated it)."""
        await self._db.execute(
            "INSERT INTO ivrs(number, name, language, config, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(number) DO UPDATE SET name = excluded.name, language = excluded.language,"
            " config = excluded.config, updated_at = excluded.updated_at",
            (row.number, row.name, row.language, json.dumps(row.config, sort_keys=True), iso(now)),
        )

    async def delete_ivr(self, number: str) -> bool:
        """Delete an IVR; False when there was none."""
        cur = await self._db.execute("DELETE FROM ivrs WHERE number = ?", (number,))
        return cur.rowcount > 0

    # ----- DIDs -----

    async def dids(self) -> list[DidRow]:
        """Every DID, by number."""
        async with self._db.execute("SELECT did, destination, note FROM dids ORDER BY did") as cur:
            return [DidRow(r[0], r[1], r[2]) for r in await cur.fetchall()]

    async def put_did(self, row: DidRow) -> None:
        """Create or replace a DID (the caller validated it)."""
        await self._db.execute(
            "INSERT INTO dids(did, destination, note) VALUES (?, ?, ?) ON CONFLICT(did) DO UPDATE"
            " SET destination = excluded.destination, note = excluded.note",
            (row.did, row.destination, row.note),
        )

    async def delete_did(self, did: str) -> bool:
        """Delete a DID; False when there was none."""
        cur = await self._db.execute("DELETE FROM dids WHERE did = ?", (did,))
        return cur.rowcount > 0

    # ----- uploaded prompts -----

    async def custom_prompts(self) -> list[CustomPromptRow]:
        """Every uploaded prompt."""
        async with self._db.execute(
            "SELECT name, language, path, duration_s, size_bytes, uploaded_at FROM custom_prompts"
            " ORDER BY language, name"
        ) as cur:
            return [CustomPromptRow(*r) for r in await cur.fetchall()]

    async def put_custom_prompt(self, row: CustomPromptRow) -> None:
        """Record an uploaded prompt (its file is already in place)."""
        await self._db.execute(
            "INSERT INTO custom_prompts(name, language, path, duration_s, size_bytes, uploaded_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name, language) DO UPDATE SET path = excluded.path,"
            " duration_s = excluded.duration_s, size_bytes = excluded.size_bytes,"
            " uploaded_at = excluded.uploaded_at",
            (row.name, row.language, row.path, row.duration_s, row.size_bytes, row.uploaded_at),
        )

    async def delete_custom_prompt(self, name: str, language: str) -> CustomPromptRow | None:
        """Forget an uploaded prompt; return its row (None when there was none)."""
        found = [p for p in await self.custom_prompts() if p.name == name and p.language == language]
        if not found:
            return None
        await self._db.execute("DELETE FROM custom_prompts WHERE name = ? AND language = ?", (name, language))
        return found[0]
