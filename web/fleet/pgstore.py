"""Fleet store on PostgreSQL (psycopg 3, async), used when the fleet is given a DSN.

Same SQL as the SQLite store (`SqlFleetStore`); here only the dialect differs. The
connection is in autocommit mode and the ingest task brackets each batch with explicit
BEGIN/COMMIT, exactly as on SQLite.
"""

from __future__ import annotations

from importlib import resources

import psycopg

from web.fleet.store import SqlFleetStore

# One advisory lock id so two fleet processes opening one database at once do not race
# on CREATE TABLE IF NOT EXISTS (PostgreSQL can fail that with a unique violation).
_SCHEMA_LOCK = 0x466C656574


class PgFleetStore(SqlFleetStore):
    """The fleet's database on PostgreSQL; the ingest task is its only writer."""

    PLACEHOLDER = "%s"
    INSERT_IGNORE = "INSERT INTO"
    IGNORE_SUFFIX = " ON CONFLICT (node, id) DO NOTHING"
    ARRIVAL = "arrival"

    @classmethod
    async def open(cls, dsn: str) -> PgFleetStore:
        """Connect and create the tables if needed."""
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        schema = resources.files("web.fleet").joinpath("schema_pg.sql").read_text()
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            await conn.execute(schema)  # type: ignore[arg-type]  # our own file, no params
        return cls(conn)
