"""Start and stop a real PostgreSQL server on a free loopback port for tests.

Uses Debian's initdb/pg_ctl from /usr/lib/postgresql/*/bin. We run as root and PostgreSQL
refuses to, so the cluster belongs to the `postgres` user (runuser) and lives in its own
temp directory (pytest's tmp_path is not reachable by that user). fsync is off: the
tests prove behaviour, not durability of the test cluster.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.net import free_port

PG_USER = "postgres"


def pg_bin() -> Path:
    """The newest installed PostgreSQL server binary directory."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL server not installed (Debian package `postgresql`)")
    return Path(found[-1]).parent


class Postgres:
    """One throw-away PostgreSQL cluster; `stop` removes it."""

    def __init__(self) -> None:
        self.bin = pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="pgtest-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._started = False

    def _as_pg(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", PG_USER, "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60)

    def start(self) -> None:
        """initdb and start on 127.0.0.1:<port>; wait until it accepts connections."""
        if os.geteuid() == 0:
            shutil.chown(self.dir, PG_USER, PG_USER)
        self._as_pg(str(self.bin / "initdb"), "-D", str(self.data), "-U", PG_USER,
                    "-A", "trust", "--no-sync", "-E", "UTF8", "--locale", "C")
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._as_pg(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts,
                    "-l", str(self.dir / "server.log"), "-w", "-t", "30", "start")
        self._started = True

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq connection string for a database of this cluster."""
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create an empty database; return its DSN."""
        self._as_pg(str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                    "-U", PG_USER, "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                    "-c", f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete the cluster."""
        try:
            if self._started:
                self._as_pg(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast",
                            "-w", "stop")
                self._started = False
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
