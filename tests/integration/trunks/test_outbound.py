"""Outbound calls over trunks: failover on 503 and on silence, health skips and returns, toll fraud.

Real Kamailio and pjsua2 workers; trunks are SIPp and pjsua2 phones on loopback (conftest.py).
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.trunks.conftest import GSM_PREFIX, TrunkBox
from tests.support.audio import has_tone
from tests.support.phone import Phone
from tests.support.sipp import sipp

SCENARIOS = Path(__file__).parent / "scenarios"


def _talk(caller: Phone, call: str, trunk: Phone, leg: str, tmp_path: Path, name: str) -> tuple[Path, Path]:
    """Both ends send a tone for two seconds; return what each heard."""
    caller.send_tone(call, 1000)
    trunk.send_tone(leg, 440)
    heard_by_trunk, heard_by_caller = tmp_path / f"{name}-trunk.wav", tmp_path / f"{name}-caller.wav"
    trunk.record_rx(leg, str(heard_by_trunk))
    caller.record_rx(call, str(heard_by_caller))
    time.sleep(2.0)  # two seconds of conversation to analyse
    caller.hangup(call)
    caller.wait(call, "disconnected", timeout=10)
    trunk.wait(leg, "disconnected", timeout=10)
    return heard_by_trunk, heard_by_caller


def _cdr(tb: TrunkBox, callee: str) -> dict[str, object]:
    rows = tb.app.wait_rows(
        "SELECT * FROM cdrs WHERE kind = 'outbound' AND callee = ? AND ended_at IS NOT NULL", (callee,)
    )
    return dict(rows[-1])


def test_503_fails_over_to_the_next_trunk_with_its_caller_id_and_audio_both_ways(
    trunk_box: TrunkBox, tmp_path: Path
) -> None:
    tb = trunk_box
    itsp = sipp(["-sf", str(SCENARIOS / "uas_503_check_cid.xml"), "-i", "127.0.0.1", "-p", str(tb.ports.itsp),
                 "-m", "1", "-timeout", "30s"], tmp_path, "itsp.log")
    try:
        with Phone() as alice:
            assert alice.register("101", tb.app.passwords["101"], registrar=tb.app.sip) == 200
            started = time.monotonic()
            call = alice.call(f"sip:0201234567@{tb.app.sip}", user="101")
            leg = tb.gsm.incoming(timeout=15)
            failover_s = time.monotonic() - started
            assert f"sip:{GSM_PREFIX}101@" in tb.gsm.info(leg).from_uri
            alice.wait(call, "confirmed", timeout=10)
            tb.gsm.wait(leg, "confirmed", timeout=10)
            heard_by_trunk, heard_by_caller = _talk(alice, call, tb.gsm, leg, tmp_path, "503")
        # the 503 trunk saw the SIP caller-ID in From and P-Asserted-Identity (its checks pass)
        assert itsp.wait(timeout=15) == 0, (tmp_path / "itsp.log").read_text(errors="replace")
    finally:
        if itsp.poll() is None:
            itsp.kill()
            itsp.wait()
    print(f"503 -> second trunk ringing after {failover_s * 1000:.0f} ms")
    assert has_tone(str(heard_by_trunk), 1000, start_s=0.5)
    assert not has_tone(str(heard_by_trunk), 440, start_s=0.5)
    assert has_tone(str(heard_by_caller), 440, start_s=0.5)
    cdr = _cdr(tb, "0201234567")
    assert cdr["caller"] == "101" and cdr["answered_by"] == "trunk:gsm" and cdr["sip_code"] == 200
    assert float(str(cdr["duration_s"])) > 1.5
    rec = tb.app.wait_rows("SELECT * FROM recordings WHERE call_id = ?", (cdr["call_id"],))
    assert rec[0]["channels"] == 2


def test_trunk_not_answering_times_out_to_the_next(trunk_box: TrunkBox, tmp_path: Path) -> None:
    tb = trunk_box
    with Phone() as alice:
        assert alice.register("102", tb.app.passwords["102"], registrar=tb.app.sip) == 200
        started = time.monotonic()
        call = alice.call(f"sip:1234567@{tb.app.sip}", user="102")
        leg = tb.gsm.incoming(timeout=15)
        failover_s = time.monotonic() - started
        assert f"sip:{GSM_PREFIX}102@" in tb.gsm.info(leg).from_uri
        alice.wait(call, "confirmed", timeout=10)
        heard_by_trunk, heard_by_caller = _talk(alice, call, tb.gsm, leg, tmp_path, "timeout")
    print(f"silent trunk (answer timeout 2 s) -> second trunk ringing after {failover_s * 1000:.0f} ms")
    assert has_tone(str(heard_by_trunk), 1000, start_s=0.5)
    assert has_tone(str(heard_by_caller), 440, start_s=0.5)
    assert _cdr(tb, "1234567")["answered_by"] == "trunk:gsm"


def _call_answered_by(tb: TrunkBox, alice: Phone, number: str, trunk: Phone) -> float:
    """Call `number`; `trunk` must ring; hang up; return seconds until it rang."""
    started = time.monotonic()
    call = alice.call(f"sip:{number}@{tb.app.sip}", user="103")
    leg = trunk.incoming(timeout=15)
    rang = time.monotonic() - started
    alice.wait(call, "confirmed", timeout=10)
    alice.hangup(call)
    alice.wait(call, "disconnected", timeout=10)
    trunk.wait(leg, "disconnected", timeout=10)
    return rang


def test_down_trunk_is_skipped_and_calls_return_when_it_recovers(trunk_box: TrunkBox) -> None:
    tb = trunk_box
    alarm = "trunk_down:primary"
    with Phone() as alice:
        assert alice.register("103", tb.app.passwords["103"], registrar=tb.app.sip) == 200
        _call_answered_by(tb, alice, "2000001", tb.primary)
        assert _cdr(tb, "2000001")["answered_by"] == "trunk:primary"
        # the primary trunk goes away: OPTIONS go unanswered, it is marked down with an alarm
        tb.primary.stop()
        tb.app.wait_rows("SELECT * FROM alarms WHERE code = ? AND cleared_at IS NULL", (alarm,), timeout=20)
        skipped_s = _call_answered_by(tb, alice, "2000002", tb.gsm)
        assert _cdr(tb, "2000002")["answered_by"] == "trunk:gsm"
        # it comes back: two answered pings clear the alarm and calls return to it
        tb.primary = Phone(port=tb.ports.primary).start()
        tb.primary.auto_answer(True)
        tb.app.wait_rows("SELECT * FROM alarms WHERE code = ? AND cleared_at IS NOT NULL", (alarm,), timeout=20)
        _call_answered_by(tb, alice, "2000003", tb.primary)
        assert _cdr(tb, "2000003")["answered_by"] == "trunk:primary"
    print(f"down trunk skipped: second trunk ringing after {skipped_s * 1000:.0f} ms")


def test_trunk_challenge_is_answered_with_its_stored_credentials(trunk_box: TrunkBox, tmp_path: Path) -> None:
    tb = trunk_box
    authed = sipp(["-sf", str(SCENARIOS / "uas_challenge_then_503.xml"), "-i", "127.0.0.1",
                   "-p", str(tb.ports.authed), "-m", "1", "-timeout", "30s"], tmp_path, "authed.log")
    try:
        with Phone() as alice:
            assert alice.register("101", tb.app.passwords["101"], registrar=tb.app.sip) == 200
            call = alice.call(f"sip:3000001@{tb.app.sip}", user="101")
            leg = tb.gsm.incoming(timeout=15)  # after the challenged trunk's 503
            alice.wait(call, "confirmed", timeout=10)
            alice.hangup(call)
            alice.wait(call, "disconnected", timeout=10)
            tb.gsm.wait(leg, "disconnected", timeout=10)
        # the trunk verified the digest answer (acct1 / its password) before its 503
        assert authed.wait(timeout=15) == 0, (tmp_path / "authed.log").read_text(errors="replace")
    finally:
        if authed.poll() is None:
            authed.kill()
            authed.wait()
    assert "trunk-secret-1" not in "".join(tb.app.lines)  # never logged


def test_toll_fraud_refusal_403_with_cdr_cause(trunk_box: TrunkBox) -> None:
    tb = trunk_box
    with Phone() as alice:
        assert alice.register("104", tb.app.passwords["104"], registrar=tb.app.sip) == 200
        call = alice.call(f"sip:00441234567890@{tb.app.sip}", user="104")
        alice.wait(call, "disconnected", timeout=10)
        assert alice.last_status(call) == 403
    cdr = _cdr(tb, "00441234567890")
    assert cdr["sip_code"] == 403 and cdr["cause"] == "toll_blocked_prefix" and cdr["answered_at"] is None


def test_no_route_is_404(trunk_box: TrunkBox) -> None:
    tb = trunk_box
    with Phone() as alice:
        assert alice.register("105", tb.app.passwords["105"], registrar=tb.app.sip) == 200
        call = alice.call(f"sip:99999999999@{tb.app.sip}", user="105")
        alice.wait(call, "disconnected", timeout=10)
        assert alice.last_status(call) == 404


