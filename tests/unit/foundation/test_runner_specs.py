"""What `appliance run` supervises: the firmware bridge only when a modem is configured."""

from __future__ import annotations

from pathlib import Path

from appliance.config import Settings
from appliance.runner import child_specs


def test_no_modem_no_bridge(tmp_path: Path) -> None:
    names = [s.name for s in child_specs(Settings(data_dir=tmp_path, workers=2), "k.cfg")]
    assert names == ["controller", "kamailio", "worker-w1", "worker-w2"]


def test_a_configured_modem_adds_the_bridge_after_the_workers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, workers=1, extra={"modem": {"port": "/dev/ttyUSB2"}})
    specs = child_specs(settings, "k.cfg")
    assert [s.name for s in specs][-1] == "firmware-bridge"
    assert specs[-1].argv[-3:] == ["firmware-bridge", "--data-dir", str(tmp_path)]
