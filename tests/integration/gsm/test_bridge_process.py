"""`appliance firmware-bridge` as the box runs it: settings `extra.modem.voice` start the GSM
voice gateway in the bridge process, and a SIP call to it leaves over the simulator's line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware_bridge.service import VoiceSettings
from firmware_bridge.simulator import ModemSimulator
from tests.support.net import free_port
from tests.support.phone import Phone

REPO = Path(__file__).resolve().parents[3]
NUMBER = "0301234567"


def _settings(data: Path, sim: ModemSimulator, sip_port: int, edge_port: int) -> None:
    data.mkdir(parents=True)
    (data / "secrets").mkdir()
    (data / "secrets" / "edge-token").write_text("t" * 32)
    (data / "appliance.json").write_text(json.dumps({
        "sip_port": edge_port, "internal_port": free_port(),
        "extra": {"modem": {"port": sim.port, "profile": "quectel",
                            "voice": {"pcm_port": sim.audio_port, "sip_port": sip_port, "did": "442071234599"}}},
    }))


def test_bridge_process_with_voice_settings_dials_out_over_gsm(tmp_path: Path) -> None:
    sip_port = free_port()
    data = tmp_path / "data"
    with ModemSimulator("quectel") as sim:
        _settings(data, sim, sip_port, free_port())
        proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "firmware-bridge", "--data-dir", str(data)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            with Phone() as phone:
                deadline = time.monotonic() + 20
                call = None
                while time.monotonic() < deadline and f"ATD{NUMBER};" not in sim.received_commands:
                    if call is None or phone.state(call) == "disconnected":
                        call = phone.call(f"sip:{NUMBER}@127.0.0.1:{sip_port}")  # until the gateway listens
                    time.sleep(0.5)
                assert f"ATD{NUMBER};" in sim.received_commands, "the bridge's gateway never dialled"
                sim.remote_answer()
                assert call is not None
                phone.wait(call, "confirmed", timeout=10)
                phone.hangup(call)
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, out[-2000:]


@pytest.mark.parametrize("voice, error", [
    ({"sip_port": 5090, "did": "442071234599"}, "pcm_port"),
    ({"pcm_port": "/dev/ttyUSB4", "did": "sales"}, "not a phone number"),
    ({"pcm_port": "/dev/ttyUSB4", "did": "442071234599", "sip_port": 5060}, "not a free port"),
])
def test_bad_voice_settings_are_refused_with_the_reason(voice: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        VoiceSettings.from_settings({"voice": voice}, 5060)
    assert VoiceSettings.from_settings({}, 5060) is None
