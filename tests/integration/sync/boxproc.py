"""Run `python -m appliance.sync` as a child process a test can SIGKILL or SIGSTOP."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


class BoxProcess:
    """One box process; always reaped by `close`."""

    def __init__(self, db: Path, node: str, port: int, password: str, *extra: str) -> None:
        self.args = [sys.executable, "-m", "appliance.sync", "--db", str(db), "--node", node,
                     "--port", str(port), "--username", node, "--password", password, *extra]
        self.log = db.with_suffix(".log")
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        """Start and wait for its READY line."""
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=subprocess.PIPE, stderr=err)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 20)
        assert line.startswith(b"READY"), (line, self.log.read_text())

    def signal(self, sig: signal.Signals) -> None:
        """Send a signal to the box."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def kill(self) -> None:
        """SIGKILL and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)

    async def terminate(self) -> int:
        """SIGTERM (graceful drain) and reap; return the exit code."""
        assert self.proc is not None
        self.proc.terminate()
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 20)
        finally:
            await self.close()

    async def close(self) -> None:
        """Make sure the process is gone."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGCONT)
                await self.kill()
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None
