"""What the cloud may do to a box: the managed configuration and the commands.

Managed configuration (the `config` of the desired document), all keys optional:

    {"ring_groups": {"600": {"name": "Support", "members": ["102", "103"],
                             "ring_seconds": 15, "record": true}},
     "extensions": {"101": {"display_name": "Reception"}}}

Ring groups are created or updated whole; extensions can be renamed (they are created on
the box, where their SIP password is shown once). A document is validated first (shape,
numbers, ranges: `validate`), then applied in ONE transaction (`apply`): members must be
existing extensions and a ring group number must not be an extension; any refusal rolls
everything back and the box reports the reason. A local admin change of the same things
is reported to the cloud as a local edit with a new version (docs/cloud-sync.md has the
conflict rule).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from appliance.web_services import audit
from appliance.web_services.audit import Actor
from appliance.web_services.tx import Writer

if TYPE_CHECKING:
    from appliance.app import Controller

log = logging.getLogger(__name__)
_NUMBER = re.compile(r"[0-9]{2,8}")
CLOUD = Actor("cloud", "mqtt")
RESTARTABLE = ("workers", "kamailio")


def validate(config: dict[str, Any]) -> list[str]:
    """Every problem with the document's shape (empty list: fine)."""
    errors: list[str] = []
    unknown = set(config) - {"ring_groups", "extensions"}
    if unknown:
        errors.append(f"unknown keys {sorted(unknown)}; this box manages ring_groups and extensions")
    groups = config.get("ring_groups", {})
    if not isinstance(groups, dict):
        return [*errors, "ring_groups must be an object keyed by number"]
    for number, g in groups.items():
        where = f"ring_groups.{number}"
        if not _NUMBER.fullmatch(str(number)):
            errors.append(f"{where}: the number must be 2 to 8 digits")
        if not isinstance(g, dict):
            errors.append(f"{where}: must be an object")
            continue
        extra = set(g) - {"name", "members", "ring_seconds", "record"}
        if extra:
            errors.append(f"{where}: unknown fields {sorted(extra)}")
        name = g.get("name")
        if not isinstance(name, str) or not 0 < len(name.strip()) <= 64:
            errors.append(f"{where}.name: 1 to 64 characters")
        members = g.get("members")
        if not isinstance(members, list) or not members or not all(
            isinstance(m, str) and _NUMBER.fullmatch(m) for m in members
        ):
            errors.append(f"{where}.members: a non-empty list of extension numbers")
        elif len(set(members)) != len(members):
            errors.append(f"{where}.members: a member is listed twice")
        ring = g.get("ring_seconds", 15)
        if not isinstance(ring, int) or isinstance(ring, bool) or not 3 <= ring <= 120:
            errors.append(f"{where}.ring_seconds: a whole number from 3 to 120")
        if not isinstance(g.get("record", True), bool):
            errors.append(f"{where}.record: true or false")
    exts = config.get("extensions", {})
    if not isinstance(exts, dict):
        return [*errors, "extensions must be an object keyed by number"]
    for number, e in exts.items():
        where = f"extensions.{number}"
        if not _NUMBER.fullmatch(str(number)):
            errors.append(f"{where}: the number must be 2 to 8 digits")
        if not isinstance(e, dict) or set(e) != {"display_name"}:
            errors.append(f"{where}: only display_name can be managed")
            continue
        name = e["display_name"]
        if not isinstance(name, str) or len(name) > 64 or any(ord(c) < 32 for c in name):
            errors.append(f"{where}.display_name: up to 64 printable characters")
    return errors


class Refused(Exception):
    """The document is well-formed but does not fit this box."""


def _apply_in(conn: sqlite3.Connection, config: dict[str, Any], clock: Any) -> None:
    for number, g in config.get("ring_groups", {}).items():
        if conn.execute("SELECT 1 FROM extensions WHERE number = ?", (number,)).fetchone():
            raise Refused(f"ring_groups.{number}: {number} is an extension")
        known = {r[0] for r in conn.execute("SELECT number FROM extensions")}
        missing = [m for m in g["members"] if m not in known]
        if missing:
            raise Refused(f"ring_groups.{number}: no extension {', '.join(missing)}")
        conn.execute(
            "INSERT INTO ring_groups(number, name, ring_seconds, record) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(number) DO UPDATE SET name = excluded.name,"
            " ring_seconds = excluded.ring_seconds, record = excluded.record",
            (number, g["name"].strip(), int(g.get("ring_seconds", 15)), int(g.get("record", True))),
        )
        conn.execute("DELETE FROM ring_group_members WHERE ring_group = ?", (number,))
        conn.executemany(
            "INSERT INTO ring_group_members(ring_group, position, extension) VALUES (?, ?, ?)",
            [(number, i, m) for i, m in enumerate(g["members"])],
        )
        audit.record(conn, clock, CLOUD, "ring_group.cloud_apply", number, **g)
    for number, e in config.get("extensions", {}).items():
        cur = conn.execute("UPDATE extensions SET display_name = ? WHERE number = ?", (e["display_name"], number))
        if cur.rowcount != 1:
            raise Refused(f"extensions.{number}: no such extension")
        audit.record(conn, clock, CLOUD, "extension.cloud_apply", number, display_name=e["display_name"])


def snapshot(conn: sqlite3.Connection) -> dict[str, Any]:
    """The managed configuration as the box has it now."""
    groups: dict[str, Any] = {}
    for number, name, ring, record in conn.execute(
        "SELECT number, name, ring_seconds, record FROM ring_groups ORDER BY number"
    ):
        members = [r[0] for r in conn.execute(
            "SELECT extension FROM ring_group_members WHERE ring_group = ? ORDER BY position", (number,))]
        groups[number] = {"name": name, "members": members, "ring_seconds": ring, "record": bool(record)}
    exts = {n: {"display_name": d} for n, d in conn.execute("SELECT number, display_name FROM extensions")}
    return {"ring_groups": groups, "extensions": exts}


class CloudHooks:
    """The box's side of remote configuration and commands."""

    def __init__(self, ctl: Controller) -> None:
        self.ctl = ctl
        self.writer = Writer(ctl.settings.db_path)
        self.applying = False  # a cloud apply must not echo back as a local edit
        self.report_local: Callable[[dict[str, Any]], Awaitable[object]] | None = None

    async def apply(self, config: dict[str, Any]) -> None:
        """Apply a validated document in one transaction, then let routing see it."""
        self.applying = True
        try:
            await self.writer.run(lambda conn: _apply_in(conn, config, self.ctl.clock))
            await self.ctl.reload_directory()
        finally:
            self.applying = False

    async def directory_changed(self) -> None:
        """A local admin change: report the managed configuration as a local edit."""
        if self.applying or self.report_local is None:
            return
        current = await self.writer.run(snapshot)
        try:
            await self.report_local(current)
        except Exception:
            log.exception("reporting a local configuration edit to the cloud failed")

    async def restart_services(self, services: list[str]) -> None:
        """Restart workers (idle ones now; busy ones are left alone) or Kamailio; their
        supervisor (`appliance run` or systemd) starts them again."""
        unknown = [s for s in services if s not in RESTARTABLE]
        if unknown:
            raise ValueError(f"cannot restart {unknown}; restartable: {list(RESTARTABLE)}")
        if "workers" in services:
            sessions = self.ctl.sessions
            busy = {s.worker for s in sessions.sessions.values()}
            for name, link in list(sessions.links.items()):
                if name not in busy:
                    with contextlib.suppress(Exception):
                        await link.command("shutdown")
        if "kamailio" in services:
            pid_file = self.ctl.settings.run_dir / "kamailio.pid"
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)

    async def recording_metadata(self, recording_id: str) -> dict[str, Any]:
        """A recording's index row (never its audio), with when retention expired and purged its file."""
        if not recording_id.isdigit():
            raise KeyError(f"no recording {recording_id!r}")
        async with self.ctl.db.execute(
            "SELECT id, call_id, path, parties, started_at, duration_s, size_bytes, sha256, channels,"
            " retention_class, legal_hold, expired_at, purged_at FROM recordings WHERE id = ?", (int(recording_id),)
        ) as cur:
            row = await cur.fetchone()
            names = [d[0] for d in cur.description]
        if row is None:
            raise KeyError(f"no recording {recording_id}")
        return dict(zip(names, tuple(row), strict=True))
