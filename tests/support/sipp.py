"""Run SIPp (Debian's sip-tester) against the box on loopback."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_SIPP = REPO_ROOT / "bench" / "sipp"


def sipp_binary() -> str:
    """Path of sipp."""
    found = shutil.which("sipp")
    if not found:
        raise FileNotFoundError("sipp not installed (Debian package sip-tester): run ./setup.sh install")
    return found


def make_tone_alaw(path: Path, freq: int, seconds: int = 10) -> Path:
    """Raw 8 kHz A-law tone for SIPp's rtp_stream, made with sox."""
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", "-e", "a-law", "-t", "raw", str(path),
         "synth", str(seconds), "sine", str(freq), "vol", "0.5"],
        check=True, capture_output=True,
    )
    return path


def sipp(args: list[str], cwd: Path, log_name: str) -> subprocess.Popen[bytes]:
    """Start sipp in the background (no terminal), logging to cwd/log_name."""
    log = (cwd / log_name).open("wb")
    return subprocess.Popen(
        [sipp_binary(), *args, "-nostdin", "-trace_err", "-error_file", str(cwd / f"{log_name}.errors")],
        cwd=cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
