"""`python -m firmware_bridge.simulator` as a command: serves AT on a pty, stops on SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import serial


def test_simulator_command_serves_at_and_stops_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "firmware_bridge.simulator", "--profile", "simcom",
         "--dir", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        at_line = proc.stdout.readline().strip()
        pcm_line = proc.stdout.readline().strip()
        assert at_line.startswith("AT port: ") and pcm_line.startswith("PCM port: ")
        port = at_line.removeprefix("AT port: ")
        assert os.path.islink(port)
        with serial.serial_for_url(port, timeout=5) as s:
            s.write(b"ATE0\rAT+CGMM\r")
            seen = b""
            while b"SIM7600" not in seen or not seen.endswith(b"OK\r\n"):
                chunk = s.read(1) + s.read(s.in_waiting)
                assert chunk, f"no answer, got {seen!r}"
                seen += chunk
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        assert not os.path.exists(port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
