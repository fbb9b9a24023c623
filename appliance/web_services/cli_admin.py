"""`appliance admin create`: set an admin's password from the console (first start or recovery)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from appliance import config
from appliance.domain.clock import SystemClock
from appliance.storage.db import migrate_sync
from appliance.storage.directory import generate_password
from appliance.web_services import audit, rules
from appliance.web_services.audit import Actor
from appliance.web_services.tx import Writer
from appliance.web_services.users import password_hasher


def admin_create(data_dir: Path, username: str, password: str | None) -> str:
    """Create (or reset to an enabled admin) `username`; returns a line to print, with a generated password."""
    rules.username(username)
    generated = password is None
    secret = generate_password(20) if password is None else password
    rules.password(secret, username)
    settings = config.load(data_dir)
    migrate_sync(settings.db_path)
    hashed = password_hasher().hash(secret)
    clock = SystemClock()

    def go(conn: sqlite3.Connection) -> str:
        row = conn.execute("SELECT id FROM web_users WHERE username = ?", (username,)).fetchone()
        if row is None:
            conn.execute("INSERT INTO web_users(username, password_hash, role) VALUES (?, ?, 'admin')",
                         (username, hashed))
            action = "created"
        else:
            conn.execute("UPDATE web_users SET password_hash = ?, role = 'admin', enabled = 1 WHERE id = ?",
                         (hashed, row[0]))
            conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (row[0],))
            action = "reset"
        audit.record(conn, clock, Actor("cli", "console"), f"admin.{action}", username)
        return action

    action = Writer(settings.db_path).run_sync(go)
    shown = f"; password {secret} (shown once)" if generated else ""
    return f"admin {username} {action}{shown}"
