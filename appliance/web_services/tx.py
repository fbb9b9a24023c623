"""Write transactions on a short-lived sqlite3 connection, run off the event loop.

The controller's shared aiosqlite connection also carries CDR writes; a BEGIN on it could
sweep another task's statements into (and out of, on ROLLBACK) an admin change. Each admin
change therefore runs whole in one thread on its own connection under BEGIN IMMEDIATE.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class Writer:
    """Runs `fn(conn)` inside one immediate transaction; an exception rolls all of it back."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in a transaction in a worker thread and return its result."""
        return await asyncio.to_thread(self.run_sync, fn)

    def run_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """The same, blocking (for the command line)."""
        conn = sqlite3.connect(self.db_path, isolation_level=None, timeout=5.0)
        try:
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        finally:
            conn.close()
