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


def test_owner_records_a_greeting_at_star97_and_the_next_caller_hears_it(box: Appliance, tmp_path: Path) -> None:
    heard_by_owner = record_greeting(box, tmp_path)
    row = box.query("SELECT greeting FROM mailboxes WHERE mailbox = '102'")[0]
    greeting = box.data_dir / row["greeting"]
    assert greeting.name == "greeting.wav"
    assert has_tone(str(greeting), GREETING_HZ, 0.2)
    assert not list(greeting.parent.glob("greeting-new-*"))  # the take was renamed, nothing left over
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
