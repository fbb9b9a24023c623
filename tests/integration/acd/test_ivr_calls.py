"""IVRs, DIDs and voicemail on real calls (Kamailio + pjsua2 workers + test phones).

IVR 800 is open now (its business hours are written around the moment the box starts), IVR
801 is closed now (hours later today): the branch is chosen by configuration relative to the
controller's clock, no waiting. Menu keys arrive by RFC 2833 and by SIP INFO.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.storage.db import migrate_sync
from appliance.storage.voicemail import hash_pin
from tests.support.appliance import Appliance, make_appliance
from tests.support.audio import has_tone
from tests.support.net import free_ports
from tests.support.phone import Phone, PhoneError
from tests.support.sipp import sipp

PIN = "2580"
DID_QUEUE = "0221234567"  # a trunk DID that selects queue 700
DID_IVR = "0221234568"  # a trunk DID that selects IVR 800


def _window(start: datetime, end: datetime) -> str:
    return f"{start:%H:%M}-{end:%H:%M}"


def ivr_config(open_now: bool) -> dict[str, object]:
    """A business-hours switch (open now, or closed now) in front of a main menu."""
    now = datetime.now(UTC)
    if open_now:
        window = _window(now - timedelta(hours=2), now + timedelta(hours=2))
    else:
        window = _window(now + timedelta(hours=3), now + timedelta(hours=5))
    return {
        "entry": "switch:hours",
        "switches": {
            "hours": {
                "hours": {"tz": "UTC", "hours": {"mon-sun": [window]}},
                "open": "menu:main",
                "closed": "voicemail:101",
            }
        },
        "menus": {
            "main": {
                "prompt": "say:For support press 1. For reception press 2. To leave a message press 3.",
                "options": {"1": "queue:700", "2": "extension:102", "3": "voicemail:101"},
                "timeout_s": 8,
                "max_retries": 1,
            }
        },
    }


# One retry, short timers: a wrong key then silence send the caller to the menu's on_fail.
STRICT_IVR = {
    "entry": "menu:m",
    "menus": {"m": {"prompt": "say:Menu.", "options": {"1": "hangup"}, "timeout_s": 1.5, "max_retries": 1,
                    "on_fail": "voicemail:102"}},
}


def preseed(data_dir: Path) -> None:
    """IVRs 800 (open) and 801 (closed), two DIDs, and a PIN on mailbox 101, before the first start."""
    db = data_dir / "appliance.db"
    migrate_sync(db)
    conn = sqlite3.connect(db)
    try:
        with conn:
            for number, open_now in (("800", True), ("801", False)):
                conn.execute(
                    "INSERT INTO ivrs(number, name, language, config, updated_at) VALUES (?, ?, 'en', ?, '')",
                    (number, f"IVR {number}", json.dumps(ivr_config(open_now))),
                )
            conn.execute(
                "INSERT INTO ivrs(number, name, language, config, updated_at) VALUES ('802', 'Strict', 'pl', ?, '')",
                (json.dumps(STRICT_IVR),),
            )
            conn.execute("INSERT INTO dids(did, destination) VALUES (?, 'queue:700')", (DID_QUEUE,))
            conn.execute("INSERT INTO dids(did, destination) VALUES (?, 'ivr:800')", (DID_IVR,))
            conn.execute("INSERT INTO mailboxes(mailbox, pin_hash) VALUES ('101', ?)", (hash_pin(PIN),))
    finally:
        conn.close()


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    """One appliance for the module, 2 workers."""
    data_dir = Path(tmp_path_factory.mktemp("ivr")) / "data"
    data_dir.mkdir()
    preseed(data_dir)
    app = make_appliance(data_dir, workers=2)
    app.start()
    try:
        yield app
    finally:
        app.stop()


def dtmf(phone: Phone, call: str, digits: str, method: str = "rfc2833") -> None:
    """Send digits once the call's media is up (the phone refuses DTMF before that)."""
    deadline = time.monotonic() + 5
    while True:
        try:
            phone.send_dtmf(call, digits, method=method)
            return
        except PhoneError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def cdr(box: Appliance, callee: str, since: int) -> dict[str, object]:
    """The newest finished CDR to `callee` after row id `since`."""
    rows = box.wait_rows(
        "SELECT * FROM cdrs WHERE callee = ? AND rowid > ? AND ended_at IS NOT NULL ORDER BY rowid", (callee, since)
    )
    return dict(rows[-1])


def last_cdr(box: Appliance) -> int:
    """The newest CDR rowid (0 when none)."""
    return int(box.query("SELECT COALESCE(MAX(rowid), 0) AS n FROM cdrs")[0]["n"])


def test_rfc2833_key_in_open_hours_rings_the_extension_and_bridges(box: Appliance, tmp_path: Path) -> None:
    since = last_cdr(box)
    with Phone() as caller, Phone() as reception:
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        assert reception.register("102", box.passwords["102"], registrar=box.sip) == 200
        reception.auto_answer(True)
        call = caller.call(f"sip:800@{box.sip}", user="101")
        caller.wait(call, "confirmed", timeout=10)
        dtmf(caller, call, "2", "rfc2833")
        incoming = reception.incoming(timeout=20)
        reception.wait(incoming, "confirmed", timeout=10)
        heard = tmp_path / "reception.wav"
        reception.record_rx(incoming, str(heard))
        caller.send_tone(call, 1000)
        reception.wait_until(lambda p: p.state(incoming) == "confirmed", timeout=5)
        time.sleep(1.5)  # talk
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
        reception.wait(incoming, "disconnected", timeout=10)
    assert has_tone(str(heard), 1000, 0.3)
    row = cdr(box, "800", since)
    assert row["kind"] == "ivr" and row["answered_by"] == "102"


def test_sip_info_key_hands_the_caller_to_the_queue(box: Appliance) -> None:
    since_ev = int(box.query("SELECT COALESCE(MAX(id), 0) AS n FROM queue_events")[0]["n"])
    since = last_cdr(box)
    with Phone() as caller:
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        call = caller.call(f"sip:800@{box.sip}", user="101")
        caller.wait(call, "confirmed", timeout=10)
        dtmf(caller, call, "1", "info")
        joined = box.wait_rows(
            "SELECT * FROM queue_events WHERE id > ? AND type = 'CallerJoined'", (since_ev,), timeout=20
        )[0]
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
    assert joined["queue_id"] == "700"
    row = cdr(box, "800", since)
    assert row["call_id"] == joined["call_id"]  # one session, one CDR, IVR -> queue
    assert row["cause"] == "abandoned"


@pytest.mark.parametrize("did", [DID_QUEUE, DID_IVR])
def test_the_called_did_selects_the_queue_or_the_ivr(box: Appliance, did: str) -> None:
    since_ev = int(box.query("SELECT COALESCE(MAX(id), 0) AS n FROM queue_events")[0]["n"])
    with Phone() as caller:
        assert caller.register("103", box.passwords["103"], registrar=box.sip) == 200
        call = caller.call(f"sip:{did}@{box.sip}", user="103")
        caller.wait(call, "confirmed", timeout=10)
        if did == DID_IVR:
            dtmf(caller, call, "1")  # the IVR's "support" key
        joined = box.wait_rows(
            "SELECT * FROM queue_events WHERE id > ? AND type = 'CallerJoined'", (since_ev,), timeout=20
        )[0]
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
    assert joined["queue_id"] == "700"


def test_closed_hours_take_the_caller_to_voicemail_and_mwi_reaches_the_phone(box: Appliance, tmp_path: Path) -> None:
    with Phone() as owner, Phone() as caller:
        assert owner.register("101", box.passwords["101"], registrar=box.sip) == 200
        assert caller.register("104", box.passwords["104"], registrar=box.sip) == 200
        call = caller.call(f"sip:801@{box.sip}", user="104")
        caller.wait(call, "confirmed", timeout=10)
        box.wait_rows("SELECT 1 FROM voicemails WHERE caller = '104' AND state = 'recording'", timeout=30)
        caller.send_tone(call, 1000)
        time.sleep(2.0)  # the message
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
        msg = box.wait_rows("SELECT * FROM voicemails WHERE caller = '104' AND state = 'ready'", timeout=15)[0]
        owner.wait_until(lambda p: any("Messages-Waiting: yes" in b for b in p.mwi("101")), timeout=15,
                         what="MWI yes for 101")
    assert msg["mailbox"] == "101" and 1.5 <= float(msg["duration_s"]) <= 4.0
    assert has_tone(str(box.data_dir / msg["path"]), 1000, 0.3, float(msg["duration_s"]) - 0.3)


def test_star97_with_the_pin_plays_the_message_and_deletes_it(box: Appliance, tmp_path: Path) -> None:
    msg = box.wait_rows("SELECT * FROM voicemails WHERE mailbox = '101' AND state = 'ready' ORDER BY id")[0]
    with Phone() as owner:
        assert owner.register("101", box.passwords["101"], registrar=box.sip) == 200
        call = owner.call(f"sip:*97@{box.sip}", user="101")
        owner.wait(call, "confirmed", timeout=10)
        heard = tmp_path / "retrieval.wav"
        owner.record_rx(call, str(heard))
        dtmf(owner, call, PIN + "#")
        box.wait_rows("SELECT 1 FROM voicemails WHERE id = ? AND heard = 1", (msg["id"],), timeout=30)
        dtmf(owner, call, "7")
        deadline = time.monotonic() + 20
        while box.query("SELECT 1 FROM voicemails WHERE id = ?", (msg["id"],)) and time.monotonic() < deadline:
            time.sleep(0.2)
        owner.wait(call, "disconnected", timeout=30)
        owner.wait_until(lambda p: any("Messages-Waiting: no" in b for b in p.mwi("101")), timeout=15,
                         what="MWI no for 101")
    assert not box.query("SELECT 1 FROM voicemails WHERE id = ?", (msg["id"],))
    assert not (box.data_dir / msg["path"]).exists()
    assert has_tone(str(heard), 1000, 0.5)  # the message's tone, played back


def test_wrong_pins_end_the_call_and_are_counted(box: Appliance) -> None:
    since = last_cdr(box)
    with Phone() as owner:
        assert owner.register("101", box.passwords["101"], registrar=box.sip) == 200
        call = owner.call(f"sip:*97@{box.sip}", user="101")
        owner.wait(call, "confirmed", timeout=10)
        for attempt in range(1, 4):
            dtmf(owner, call, "0000#")
            if attempt < 3:
                box.wait_rows("SELECT 1 FROM mailboxes WHERE mailbox = '101' AND failed_pins = ?", (attempt,))
        owner.wait(call, "disconnected", timeout=40)
    row = cdr(box, "*97", since)
    assert row["cause"] == "pin_refused"
    assert box.query("SELECT failed_pins FROM mailboxes WHERE mailbox = '101'")[0]["failed_pins"] == 3


SIPP_DTMF_CALLER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="IVR caller pressing 2 with SIPp's RFC 2833 pcap">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:trunk@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:trunk@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
  ]]></send>
  <recv response="100" optional="true"></recv>
  <recv response="180" optional="true"></recv>
  <recv response="183" optional="true"></recv>
  <recv response="200" rtd="true"></recv>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:trunk@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:trunk@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <pause milliseconds="1000"/>
  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_2.pcap"/></action></nop>
  <pause milliseconds="6000"/>
  <send retrans="500"><![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:trunk@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:trunk@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200" crlf="true"></recv>
</scenario>
"""


def test_sipp_rfc2833_pcap_navigates_the_ivr(box: Appliance, tmp_path: Path) -> None:
    since = last_cdr(box)
    scenario = tmp_path / "ivr_dtmf.xml"
    scenario.write_text(SIPP_DTMF_CALLER)
    with Phone() as reception:
        assert reception.register("102", box.passwords["102"], registrar=box.sip) == 200
        reception.auto_answer(True)
        caller = sipp(
            [box.sip, "-sf", str(scenario), "-s", "800", "-i", "127.0.0.1", "-p", str(box.trunk_port),
             "-mp", str(free_ports(1)[0]), "-m", "1", "-timeout", "40s"],
            tmp_path, "sipp.log",
        )
        try:
            incoming = reception.incoming(timeout=20)  # key 2 of the menu: reception (102)
            reception.wait(incoming, "confirmed", timeout=10)
            assert caller.wait(40) == 0, (tmp_path / "sipp.log").read_text(errors="replace")[-2000:]
        finally:
            if caller.poll() is None:
                caller.kill()
                caller.wait()
        reception.wait(incoming, "disconnected", timeout=10)
    row = cdr(box, "800", since)
    assert row["answered_by"] == "102" and row["sip_code"] == 200


def test_a_wrong_key_then_silence_take_the_fail_destination(box: Appliance) -> None:
    with Phone() as caller:
        assert caller.register("103", box.passwords["103"], registrar=box.sip) == 200
        call = caller.call(f"sip:802@{box.sip}", user="103")
        caller.wait(call, "confirmed", timeout=10)
        dtmf(caller, call, "8", "info")
        box.wait_rows(
            "SELECT 1 FROM voicemails WHERE mailbox = '102' AND caller = '103' AND state = 'recording'", timeout=30
        )
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
    log = "".join(box.lines)
    assert "IVR 802 call" in log and "menu:m > key:8 > invalid > timeout > voicemail:102" in log
