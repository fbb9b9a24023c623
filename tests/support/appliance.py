"""Start the real appliance (`appliance run`) on free loopback ports for a test."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.net import free_block, free_ports

REPO_ROOT = Path(__file__).resolve().parents[2]
_PASSWORD = re.compile(r"extension (\d+)\s+.*password (\S+)")


@dataclass
class Appliance:
    """A running `appliance run` and what a test needs to talk to it."""

    data_dir: Path
    sip_port: int
    web_port: int
    internal_port: int
    workers: int
    worker_base_port: int
    trunk_port: int = 0  # a SIPp "trunk" on 127.0.0.1 at this port skips digest auth
    proc: subprocess.Popen[str] | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    @property
    def sip(self) -> str:
        """ip:port of the SIP edge."""
        return f"127.0.0.1:{self.sip_port}"

    def start(self, extra: list[str] | None = None, timeout: float = 60.0) -> Appliance:
        """Start and wait until every worker has said hello."""
        argv = [
            sys.executable, "-m", "appliance.cli", "run", "--data-dir", str(self.data_dir),
            "--sip-ip", "127.0.0.1", "--sip-port", str(self.sip_port), "--web-ip", "127.0.0.1",
            "--web-port", str(self.web_port), "--internal-port", str(self.internal_port),
            "--workers", str(self.workers), "--worker-base-port", str(self.worker_base_port),
            "--trusted", f"127.0.0.1:{self.trunk_port}",
            *(extra or []),
        ]
        self.proc = subprocess.Popen(
            argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            errors="replace",
        )
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.wait_workers(self.workers, timeout)
        except BaseException:
            self.stop()  # never leave a half-started box behind
            raise
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            m = _PASSWORD.search(line)
            if m:
                self.passwords[m.group(1)] = m.group(2)

    def status(self) -> dict[str, Any]:
        """The controller's status document (HTTPS with the box's self-signed certificate)."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # loopback only; the certificate is tested in tests/*/web
        url = f"https://127.0.0.1:{self.web_port}/api/v1/status"
        with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
            return dict(json.loads(r.read()))

    def wait_workers(self, n: int, timeout: float = 60.0) -> None:
        """Wait until `n` workers are connected."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("appliance exited:\n" + "".join(self.lines[-60:]))
            try:
                if len(self.status()["workers"]) >= n:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{n} workers not up in {timeout} s:\n" + "".join(self.lines[-60:]))

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Read the appliance's database (read-only)."""
        conn = sqlite3.connect(f"file:{self.data_dir / 'appliance.db'}?mode=ro", uri=True, timeout=5)
        conn.row_factory = sqlite3.Row
        try:
            return list(conn.execute(sql, args))
        finally:
            conn.close()

    def wait_rows(self, sql: str, args: tuple[Any, ...] = (), n: int = 1, timeout: float = 20.0) -> list[sqlite3.Row]:
        """Poll until the query returns at least `n` rows."""
        deadline = time.monotonic() + timeout
        rows: list[sqlite3.Row] = []
        while time.monotonic() < deadline:
            rows = self.query(sql, args)
            if len(rows) >= n:
                return rows
            time.sleep(0.2)
        raise TimeoutError(f"{sql} gave {len(rows)} rows, wanted {n}")

    def stop(self, timeout: float = 30.0) -> int:
        """Ctrl-C the appliance and wait for it; return its exit code. Its output is kept
        beside the data directory (appliance.log) for post-mortems."""
        try:
            return self._stop(timeout)
        finally:
            (self.data_dir.parent / f"{self.data_dir.name}.log").write_text("".join(self.lines))

    def _stop(self, timeout: float) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def make_appliance(data_dir: Path, workers: int = 2) -> Appliance:
    """An Appliance on free loopback ports (not started)."""
    ports = free_ports(4)
    base = free_block(workers)
    return Appliance(
        data_dir=data_dir, sip_port=ports[0], web_port=ports[1], internal_port=ports[2],
        workers=workers, worker_base_port=base, trunk_port=ports[3],
    )
