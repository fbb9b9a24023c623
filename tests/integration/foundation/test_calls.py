"""Phones register through Kamailio and call each other; audio is checked both ways."""

from __future__ import annotations

from pathlib import Path

from tests.support.appliance import Appliance
from tests.support.audio import has_tone, wav_duration
from tests.support.phone import Phone


def test_register_ok_and_wrong_password_refused(box: Appliance) -> None:
    with Phone() as phone:
        assert phone.register("101", box.passwords["101"], registrar=box.sip) == 200
        assert phone.register("103", "not-the-password", registrar=box.sip) == 403
        assert phone.register("999", "whatever", registrar=box.sip) == 403


def test_extension_to_extension_audio_both_ways(box: Appliance, tmp_path: Path) -> None:
    with Phone() as alice, Phone() as bob:
        assert alice.register("101", box.passwords["101"], registrar=box.sip) == 200
        assert bob.register("102", box.passwords["102"], registrar=box.sip) == 200
        bob.auto_answer(True)
        call = alice.call(f"sip:102@{box.sip}", user="101")
        incoming = bob.incoming(timeout=10)
        alice.wait(call, "confirmed", timeout=10)
        bob.wait(incoming, "confirmed", timeout=10)
        alice.send_tone(call, 1000)
        bob.send_tone(incoming, 440)
        heard_by_bob = tmp_path / "bob.wav"
        heard_by_alice = tmp_path / "alice.wav"
        bob.record_rx(incoming, str(heard_by_bob))
        alice.record_rx(call, str(heard_by_alice))
        import time

        time.sleep(2.0)  # two seconds of conversation
        alice.hangup(call)
        alice.wait(call, "disconnected", timeout=10)
        bob.wait(incoming, "disconnected", timeout=10)
    assert wav_duration(str(heard_by_bob)) > 1.5
    assert has_tone(str(heard_by_bob), 1000, start_s=0.5)
    assert not has_tone(str(heard_by_bob), 440, start_s=0.5)
    assert has_tone(str(heard_by_alice), 440, start_s=0.5)
    assert not has_tone(str(heard_by_alice), 1000, start_s=0.5)
    rows = box.wait_rows(
        "SELECT * FROM cdrs WHERE caller='101' AND callee='102' AND ended_at IS NOT NULL"
    )
    assert rows[-1]["sip_code"] == 200 and rows[-1]["answered_at"] is not None
    assert rows[-1]["duration_s"] > 1.5


def test_unknown_extension_404_and_unregistered_480(box: Appliance) -> None:
    with Phone() as alice:
        assert alice.register("101", box.passwords["101"], registrar=box.sip) == 200
        c1 = alice.call(f"sip:777@{box.sip}", user="101")
        alice.wait(c1, "disconnected", timeout=10)
        assert alice.last_status(c1) == 404
        c2 = alice.call(f"sip:105@{box.sip}", user="101")
        alice.wait(c2, "disconnected", timeout=10)
        assert alice.last_status(c2) == 480
    codes = {r["callee"]: r["sip_code"] for r in box.wait_rows(
        "SELECT callee, sip_code FROM cdrs WHERE callee IN ('777','105') AND ended_at IS NOT NULL", n=2)}
    assert codes == {"777": 404, "105": 480}


def test_echo_test_returns_the_callers_tone(box: Appliance, tmp_path: Path) -> None:
    with Phone() as alice:
        assert alice.register("101", box.passwords["101"], registrar=box.sip) == 200
        call = alice.call(f"sip:*43@{box.sip}", user="101")
        alice.wait(call, "confirmed", timeout=10)
        alice.send_tone(call, 1000)
        heard = tmp_path / "echo.wav"
        alice.record_rx(call, str(heard))
        import time

        time.sleep(2.0)
        alice.hangup(call)
        alice.wait(call, "disconnected", timeout=10)
    assert has_tone(str(heard), 1000, start_s=0.5)
    row = box.wait_rows("SELECT * FROM cdrs WHERE callee='*43' AND ended_at IS NOT NULL")[-1]
    assert row["kind"] == "echo" and row["sip_code"] == 200 and row["worker"]
