"""`appliance run --modem-sim quectel`: the simulator is the box's modem, the bridge drives it,
and a desk phone's call to a national number leaves over the simulated GSM line with audio."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.appliance import Appliance, make_appliance
from tests.support.audio import has_tone
from tests.support.net import free_port
from tests.support.phone import Phone


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    data_dir = Path(tmp_path_factory.mktemp("demo")) / "data"
    data_dir.mkdir()
    app = make_appliance(data_dir, workers=2)
    app.start(extra=["--modem-sim", "quectel", "--modem-sim-sip-port", str(free_port())])
    try:
        yield app
    finally:
        app.stop()


def modem_status(app: Appliance) -> dict[str, object]:
    try:
        return dict(json.loads((app.data_dir / "run" / "modem.json").read_text()))
    except (OSError, ValueError):
        return {}


def test_a_call_leaves_over_the_simulated_gsm_line(demo: Appliance, tmp_path: Path) -> None:
    deadline = time.monotonic() + 30
    while modem_status(demo).get("state") != "ready" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert modem_status(demo).get("state") == "ready", modem_status(demo)
    with Phone() as phone:
        assert phone.register("101", demo.passwords["101"], registrar=demo.sip) == 200
        call = phone.call(f"sip:0301234567@{demo.sip}", user="101")
        phone.wait(call, "confirmed", timeout=20)  # the simulator's far end answers after 2 s
        heard = tmp_path / "heard.wav"
        phone.record_rx(call, str(heard))
        time.sleep(2.5)
        phone.hangup(call)
        phone.wait(call, "disconnected", timeout=10)
    assert has_tone(str(heard), 1000, 0.5), "the phone did not hear the simulated far end"
    cdr = demo.wait_rows("SELECT * FROM cdrs WHERE callee = '0301234567' AND ended_at IS NOT NULL")[-1]
    assert cdr["kind"] == "outbound" and cdr["answered_by"] == "trunk:gsm-sim"
    names = [r["service"] for r in demo.query("SELECT DISTINCT service FROM service_events")]
    assert "modem-sim" in names and "firmware-bridge" in names
