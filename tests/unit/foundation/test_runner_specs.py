"""What `appliance run` supervises: the firmware bridge only when a modem is configured; simulator mode."""

from __future__ import annotations

from pathlib import Path

from appliance.config import Settings
from appliance.demo_modem import modem_settings, seed_simulated_line
from appliance.runner import child_specs
from appliance.storage.db import open_db


def test_no_modem_no_bridge(tmp_path: Path) -> None:
    names = [s.name for s in child_specs(Settings(data_dir=tmp_path, workers=2), "k.cfg")]
    assert names == ["controller", "kamailio", "worker-w1", "worker-w2"]


def test_a_configured_modem_adds_the_bridge_after_the_workers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, workers=1, extra={"modem": {"port": "/dev/ttyUSB2"}})
    specs = child_specs(settings, "k.cfg")
    assert [s.name for s in specs][-1] == "firmware-bridge"
    assert specs[-1].argv[-3:] == ["firmware-bridge", "--data-dir", str(tmp_path)]


def test_simulator_mode_runs_the_simulator_before_the_bridge(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, workers=1)
    settings.extra["modem"] = modem_settings("simcom", settings.run_dir, 5090)
    specs = child_specs(settings, "k.cfg")
    assert [s.name for s in specs][-2:] == ["modem-sim", "firmware-bridge"]
    assert specs[-2].argv[-4:] == ["--profile", "simcom", "--dir", str(settings.run_dir / "modemsim")]


async def test_the_simulated_line_is_seeded_once(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "appliance.db")
    try:
        modem = modem_settings("quectel", tmp_path / "run", 5090)
        assert await seed_simulated_line(db, tmp_path, modem) is True
        assert await seed_simulated_line(db, tmp_path, modem) is False
        async with db.execute("SELECT name, port FROM trunks") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [("gsm-sim", 5090)]
        async with db.execute("SELECT destination FROM dids WHERE did = '+15550001000'") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [("extension:101",)]
        assert await seed_simulated_line(db, tmp_path, {"port": "/dev/ttyUSB2"}) is False  # a real modem
    finally:
        await db.close()
