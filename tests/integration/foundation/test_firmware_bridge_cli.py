"""`appliance firmware-bridge` drives a modem (our simulator on a pty) and publishes status."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from firmware_bridge.simulator.runner import ModemSimulator

REPO = Path(__file__).resolve().parents[3]


def wait_status(path: Path, pred: object, timeout: float = 20) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    doc: dict[str, object] = {}
    while time.monotonic() < deadline:
        try:
            doc = json.loads(path.read_text())
            if pred(doc):  # type: ignore[operator]
                return doc
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"status never matched: {doc}")


def test_bridge_reports_a_ready_modem_and_stops_cleanly(tmp_path: Path) -> None:
    (tmp_path / "sim").mkdir()
    # The controller makes the internal token the bridge's link uses at its first start (the
    # bridge waits for it); the controller itself need not run: messages wait in the spool.
    (tmp_path / "d" / "secrets").mkdir(parents=True)
    (tmp_path / "d" / "secrets" / "edge-token").write_text("t" * 32)
    with ModemSimulator("simcom", tmp_path / "sim") as sim:
        proc = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "firmware-bridge", "--data-dir", str(tmp_path / "d"),
             "--modem-port", sim.port, "--modem-profile", "simcom"],
            cwd=REPO,
        )
        try:
            status = tmp_path / "d" / "run" / "modem.json"
            doc = wait_status(status, lambda d: d.get("state") == "ready" and d.get("imei"))
            assert len(str(doc["imei"])) == 15
            sim.set_sim("SIM PIN")
            sim.power_cycle()
            doc = wait_status(status, lambda d: "sim_pin" in json.dumps(d.get("alarms", {})).lower())
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_bridge_without_a_modem_idles(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "firmware-bridge", "--data-dir", str(tmp_path)], cwd=REPO
    )
    try:
        assert wait_status(tmp_path / "run" / "modem.json", lambda d: True) == {"state": "not_configured"}
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
