"""Inbound calls from a trunk: routed as DIDs without a challenge; strangers are still challenged."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.trunks.conftest import DID, TrunkBox
from tests.support.audio import has_tone
from tests.support.phone import Phone


def test_trunk_call_to_a_did_reaches_the_extension_with_audio(trunk_box: TrunkBox, tmp_path: Path) -> None:
    tb = trunk_box
    with Phone() as bob:
        assert bob.register("102", tb.app.passwords["102"], registrar=tb.app.sip) == 200
        bob.auto_answer(True)
        call = tb.gsm.call(f"sip:{DID}@{tb.app.sip}")  # from the trunk's own address, no credentials
        leg = bob.incoming(timeout=15)
        tb.gsm.wait(call, "confirmed", timeout=15)
        bob.wait(leg, "confirmed", timeout=10)
        tb.gsm.send_tone(call, 1000)
        bob.send_tone(leg, 440)
        heard_by_bob, heard_by_trunk = tmp_path / "bob.wav", tmp_path / "trunk.wav"
        bob.record_rx(leg, str(heard_by_bob))
        tb.gsm.record_rx(call, str(heard_by_trunk))
        time.sleep(2.0)  # two seconds of conversation to analyse
        tb.gsm.hangup(call)
        tb.gsm.wait(call, "disconnected", timeout=10)
        bob.wait(leg, "disconnected", timeout=10)
    assert has_tone(str(heard_by_bob), 1000, start_s=0.5)
    assert not has_tone(str(heard_by_bob), 440, start_s=0.5)
    assert has_tone(str(heard_by_trunk), 440, start_s=0.5)
    rows = tb.app.wait_rows("SELECT * FROM cdrs WHERE callee = ? AND ended_at IS NOT NULL", (DID,))
    assert rows[-1]["answered_at"] is not None


def test_unknown_address_is_challenged(trunk_box: TrunkBox) -> None:
    tb = trunk_box
    with Phone() as stranger:
        call = stranger.call(f"sip:{DID}@{tb.app.sip}")
        stranger.wait(call, "disconnected", timeout=10)
        assert stranger.last_status(call) in (401, 407)


def test_trunk_call_cannot_leave_over_a_trunk_again(trunk_box: TrunkBox) -> None:
    tb = trunk_box
    call = tb.gsm.call(f"sip:0201234567@{tb.app.sip}")
    tb.gsm.wait(call, "disconnected", timeout=10)
    assert tb.gsm.last_status(call) == 404
