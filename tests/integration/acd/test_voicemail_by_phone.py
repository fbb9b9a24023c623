"""Voicemail by phone on real calls (Kamailio + pjsua2 workers + test phones).

The owner of mailbox 102 records a personal greeting at *97 (key 0 after the PIN); the next
caller to reach that mailbox hears it before the beep. An unanswered or busy direct call
(phone to phone through Kamailio) ends in the called extension's mailbox.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.storage.db import migrate_sync
from appliance.storage.voicemail import hash_pin
from tests.support.appliance import Appliance, make_appliance
from tests.support.audio import has_tone, read_wav, tone_power
from tests.support.phone import Phone, PhoneError

PIN = "4711"
DID_VOICEMAIL = "0227654321"  # a DID straight to mailbox 102
GREETING_HZ = 800  # the owner "says" this tone as the greeting (the beep is 1400 Hz)
BEEP_HZ = 1400
MESSAGE_HZ = 1000


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    """One appliance for the module, 2 workers; mailbox 102 has a PIN, a DID leads to it."""
    data_dir = Path(tmp_path_factory.mktemp("vm")) / "data"
    data_dir.mkdir()
    db = data_dir / "appliance.db"
    migrate_sync(db)
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute("INSERT INTO mailboxes(mailbox, pin_hash) VALUES ('102', ?)", (hash_pin(PIN),))
            conn.execute("INSERT INTO dids(did, destination) VALUES (?, 'voicemail:102')", (DID_VOICEMAIL,))
    finally:
        conn.close()
    app = make_appliance(data_dir, workers=2)
    app.start()
    try:
        yield app
    finally:
        app.stop()


def dtmf(phone: Phone, call: str, digits: str) -> None:
    """Send RFC 2833 digits once the call's media is up (the phone refuses DTMF before that)."""
    deadline = time.monotonic() + 5
    while True:
        try:
            phone.send_dtmf(call, digits)
            return
        except PhoneError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def tone_times(path: Path, freq: float, window_s: float = 0.25) -> list[float]:
    """Start times of the windows of a WAV in which `freq` clearly dominates its neighbours."""
    wav = read_wav(str(path))
    n = int(window_s * wav.rate)
    samples = wav.channels[0]
    found = []
    for start in range(0, len(samples) - n + 1, n):
        seg = samples[start:start + n]
        if max(abs(x) for x in seg) < 300:
            continue
        target = tone_power(seg, wav.rate, freq)
        others = max(tone_power(seg, wav.rate, f) for f in (freq - 400, freq - 200, freq + 200, freq + 400))
        if target > 10 * max(others, 1e-9):
            found.append(start / wav.rate)
    return found


def wait_file(pattern: str, folder: Path, timeout: float = 30.0) -> Path:
    """The first file matching `pattern` in `folder` once it exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = sorted(folder.glob(pattern)) if folder.exists() else []
        if hits:
            return hits[0]
        time.sleep(0.1)
    raise AssertionError(f"no {pattern} in {folder} within {timeout} s")


def record_greeting(box: Appliance, tmp_path: Path) -> Path:
    """Mailbox 102's owner records a greeting of GREETING_HZ at *97 and keeps it; what the phone heard."""
    heard = tmp_path / "owner.wav"
    with Phone() as owner:
        assert owner.register("102", box.passwords["102"], registrar=box.sip) == 200
        call = owner.call(f"sip:*97@{box.sip}", user="102")
        owner.wait(call, "confirmed", timeout=10)
        owner.record_rx(call, str(heard))
        dtmf(owner, call, PIN + "#0")  # the PIN, then 0 during "you have N messages": record a greeting
        wait_file("greeting-new-*-0.wav", box.data_dir / "voicemail" / "102")  # recording after the beep
        owner.send_tone(call, GREETING_HZ)
        time.sleep(2.0)  # the greeting
        owner.stop_tone(call)
        dtmf(owner, call, "#")
        time.sleep(3.0)  # listen to the playback
        dtmf(owner, call, "1")  # keep it
        box.wait_rows("SELECT 1 FROM mailboxes WHERE mailbox = '102' AND greeting IS NOT NULL", timeout=20)
        owner.hangup(call)
        owner.wait(call, "disconnected", timeout=10)
    return heard


@pytest.fixture(scope="module")
def greeting(box: Appliance, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Mailbox 102's greeting, recorded once by its owner; returns what the owner heard meanwhile."""
    return record_greeting(box, Path(tmp_path_factory.mktemp("greeting")))


def assert_greeting_then_beep(heard: Path) -> None:
    """The caller heard the owner's greeting tone, whole, and then the beep."""
    greeting_at = tone_times(heard, GREETING_HZ)
    beep_at = tone_times(heard, BEEP_HZ)
    assert greeting_at and beep_at, (greeting_at, beep_at)
    assert max(greeting_at) <= min(beep_at)  # the owner's greeting, then the beep (windows of 0.25 s)
    assert max(greeting_at) - min(greeting_at) >= 1.0  # the whole greeting, not a blip


def test_owner_records_a_greeting_at_star97_and_the_next_caller_hears_it(
    box: Appliance, greeting: Path, tmp_path: Path
) -> None:
    heard_by_owner = greeting
    row = box.query("SELECT greeting FROM mailboxes WHERE mailbox = '102'")[0]
    stored = box.data_dir / row["greeting"]
    assert stored.name == "greeting.wav"
    assert has_tone(str(stored), GREETING_HZ, 0.2)
    assert not list(stored.parent.glob("greeting-new-*"))  # the take was renamed, nothing left over
    beeps = tone_times(heard_by_owner, BEEP_HZ)
    assert beeps and any(t > beeps[0] for t in tone_times(heard_by_owner, GREETING_HZ))  # played back

    heard = tmp_path / "caller.wav"
    with Phone() as caller:
        assert caller.register("103", box.passwords["103"], registrar=box.sip) == 200
        call = caller.call(f"sip:{DID_VOICEMAIL}@{box.sip}", user="103")
        caller.wait(call, "confirmed", timeout=10)
        caller.record_rx(call, str(heard))
        box.wait_rows("SELECT 1 FROM voicemails WHERE caller = '103' AND state = 'recording'", timeout=30)
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
    greeting_at = tone_times(heard, GREETING_HZ)
    beep_at = tone_times(heard, BEEP_HZ)
    assert greeting_at and beep_at, (greeting_at, beep_at)
    assert max(greeting_at) <= min(beep_at)  # the owner's greeting, then the beep (windows of 0.25 s)
    assert max(greeting_at) - min(greeting_at) >= 1.0  # the whole greeting, not a blip


def leave_message_on_direct_call(box: Appliance, tmp_path: Path, busy: bool) -> tuple[sqlite3.Row, Path]:
    """101 calls 102 directly; 102 rings and never answers (or is busy); 101 ends in 102's mailbox and
    leaves a MESSAGE_HZ tone. Returns the message row and what 101 heard."""
    seen = {r["call_id"] for r in box.query("SELECT call_id FROM voicemails WHERE caller = '101'")}
    heard = tmp_path / "caller.wav"
    with Phone() as owner, Phone() as caller:
        assert owner.register("102", box.passwords["102"], registrar=box.sip) == 200
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        if busy:
            owner.auto_answer(True, code=486)
        started = time.monotonic()
        call = caller.call(f"sip:102@{box.sip}", user="101")
        ringing = owner.incoming(timeout=10)  # the desk phone really rang
        rang = time.monotonic()
        caller.wait(call, "confirmed", timeout=40)  # voicemail answered after the ring time
        print(f"{'busy' if busy else 'no answer'}: rang after {(rang - started) * 1000:.0f} ms, "
              f"voicemail answered {time.monotonic() - rang:.2f} s after the ring began")
        caller.record_rx(call, str(heard))
        box.wait_rows("SELECT 1 FROM voicemails WHERE caller = '101' AND state = 'recording'", timeout=30)
        caller.send_tone(call, MESSAGE_HZ)
        time.sleep(2.0)  # the message
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
        msg = next(r for r in box.wait_rows("SELECT * FROM voicemails WHERE caller = '101' AND state = 'ready'",
                                            n=len(seen) + 1, timeout=15) if r["call_id"] not in seen)
        owner.wait_until(lambda p: any("Messages-Waiting: yes" in b for b in p.mwi("102")), timeout=15,
                         what="MWI yes for 102")
        owner.wait(ringing, "disconnected", timeout=10)  # the ringing stopped (CANCEL or its own 486)
    return msg, heard


@pytest.mark.parametrize("busy", [False, True], ids=["no_answer", "busy"])
def test_unanswered_direct_call_goes_to_the_extensions_voicemail(
    box: Appliance, greeting: Path, tmp_path: Path, busy: bool
) -> None:
    since = int(box.query("SELECT COALESCE(MAX(rowid), 0) AS n FROM cdrs")[0]["n"])
    msg, heard = leave_message_on_direct_call(box, tmp_path, busy)
    assert msg["mailbox"] == "102" and msg["caller"] == "101"
    assert 1.5 <= float(msg["duration_s"]) <= 4.0
    assert has_tone(str(box.data_dir / msg["path"]), MESSAGE_HZ, 0.3, float(msg["duration_s"]) - 0.3)
    assert_greeting_then_beep(heard)
    cdr = box.wait_rows(
        "SELECT * FROM cdrs WHERE rowid > ? AND call_id = ? AND ended_at IS NOT NULL", (since, msg["call_id"])
    )[0]
    assert cdr["callee"] == "102" and cdr["answered_by"] == "voicemail:102"  # one CDR: the call, then voicemail


def test_a_second_take_replaces_the_first_and_a_hang_up_mid_take_changes_nothing(
    box: Appliance, greeting: Path
) -> None:
    folder = box.data_dir / "voicemail" / "102"
    with Phone() as owner:
        assert owner.register("102", box.passwords["102"], registrar=box.sip) == 200
        call = owner.call(f"sip:*97@{box.sip}", user="102")
        owner.wait(call, "confirmed", timeout=10)
        dtmf(owner, call, PIN + "#0")
        first = wait_file("greeting-new-*-0-0.wav", folder)
        owner.send_tone(call, 600)
        time.sleep(1.5)  # the first take
        owner.stop_tone(call)
        dtmf(owner, call, "#2")  # end the take, then "record it again" (during the playback)
        wait_file("greeting-new-*-1-0.wav", folder)
        assert not first.exists()  # the discarded take is gone
        owner.send_tone(call, 500)
        time.sleep(1.5)  # the second take
        owner.stop_tone(call)
        dtmf(owner, call, "#1")  # end it and keep it
        deadline = time.monotonic() + 20
        while list(folder.glob("greeting-new-*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        owner.hangup(call)
        owner.wait(call, "disconnected", timeout=10)
    stored = box.data_dir / box.query("SELECT greeting FROM mailboxes WHERE mailbox = '102'")[0]["greeting"]
    assert has_tone(str(stored), 500, 0.2) and not has_tone(str(stored), 600, 0.2)
    kept = stored.read_bytes()

    with Phone() as owner:  # a take abandoned by hanging up
        assert owner.register("102", box.passwords["102"], registrar=box.sip) == 200
        call = owner.call(f"sip:*97@{box.sip}", user="102")
        owner.wait(call, "confirmed", timeout=10)
        dtmf(owner, call, PIN + "#0")
        wait_file("greeting-new-*-0-0.wav", folder)
        owner.send_tone(call, 700)
        time.sleep(1.0)
        owner.hangup(call)
        owner.wait(call, "disconnected", timeout=10)
    deadline = time.monotonic() + 20
    while list(folder.glob("greeting-new-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not list(folder.glob("greeting-new-*"))
    assert stored.read_bytes() == kept  # the kept greeting is untouched
    assert box.query("SELECT greeting FROM mailboxes WHERE mailbox = '102'")[0]["greeting"] == str(
        stored.relative_to(box.data_dir))
