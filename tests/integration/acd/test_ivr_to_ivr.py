"""An IVR key that sends the caller on to another IVR, on real calls (Kamailio + pjsua2 workers + phones).

IVR 800 (English) key 3 -> IVR 810 (Hebrew), whose key 1 rings extension 102: one session, one
CDR. IVRs 820 and 821 send the caller to each other on key 3: the sixth hand-over is refused,
the caller hears the invalid prompt and goodbye, and the call ends with cause ivr_loop.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.controller.ivr import MAX_IVR_HOPS
from appliance.storage.db import migrate_sync
from tests.integration.acd.test_ivr_calls import cdr, dtmf, last_cdr
from tests.support.appliance import Appliance, make_appliance
from tests.support.audio import has_tone
from tests.support.phone import Phone


def menu(prompt: str, options: dict[str, str]) -> str:
    """An IVR whose entry is one menu with these keys, as stored JSON."""
    return json.dumps({"entry": "menu:main", "menus": {"main": {"prompt": prompt, "options": options,
                                                                "timeout_s": 20}}})


IVRS = [
    ("800", "Main", "en", menu("say:For Hebrew press 3.", {"1": "extension:101", "3": "ivr:810"})),
    ("810", "Hebrew", "he", menu("say:לשירות הקישו 1", {"1": "extension:102", "9": "ivr:800"})),
    ("820", "Loop A", "en", menu("say:A.", {"3": "ivr:821"})),
    ("821", "Loop B", "en", menu("say:B.", {"3": "ivr:820"})),
]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    """One appliance with the four IVRs stored before its first start, 2 workers."""
    data_dir = Path(tmp_path_factory.mktemp("ivr2ivr")) / "data"
    data_dir.mkdir()
    db = data_dir / "appliance.db"
    migrate_sync(db)
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO ivrs(number, name, language, config, updated_at) VALUES (?, ?, ?, ?, '')", IVRS
            )
    finally:
        conn.close()
    app = make_appliance(data_dir, workers=2)
    app.start()
    try:
        yield app
    finally:
        app.stop()


def hand_overs(box: Appliance, text: str) -> int:
    """How many IVR -> IVR hand-over lines containing `text` the appliance logged."""
    return sum(1 for line in list(box.lines) if "-> ivr" in line and text in line)


def wait_hand_overs(box: Appliance, text: str, n: int, timeout: float = 20.0) -> None:
    """Wait until `n` hand-over lines containing `text` were logged."""
    deadline = time.monotonic() + timeout
    while hand_overs(box, text) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n} hand-overs {text!r} not logged:\n" + "".join(box.lines[-40:]))
        time.sleep(0.05)


def test_key_3_reaches_the_second_ivr_whose_key_1_rings_102_in_one_cdr(box: Appliance, tmp_path: Path) -> None:
    since = last_cdr(box)
    with Phone() as caller, Phone() as agent:
        assert caller.register("103", box.passwords["103"], registrar=box.sip) == 200
        assert agent.register("102", box.passwords["102"], registrar=box.sip) == 200
        agent.auto_answer(True)
        call = caller.call(f"sip:800@{box.sip}", user="103")
        caller.wait(call, "confirmed", timeout=10)
        dtmf(caller, call, "3")
        wait_hand_overs(box, "ivr 800 -> ivr 810", 1)
        dtmf(caller, call, "1")
        incoming = agent.incoming(timeout=20)
        agent.wait(incoming, "confirmed", timeout=10)
        heard = tmp_path / "agent.wav"
        agent.record_rx(incoming, str(heard))
        caller.send_tone(call, 1000)
        time.sleep(1.5)  # talk
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
        agent.wait(incoming, "disconnected", timeout=10)
    assert has_tone(str(heard), 1000, 0.3)
    row = cdr(box, "800", since)
    assert row["kind"] == "ivr" and row["answered_by"] == "102" and row["caller"] == "103"
    rows = box.query("SELECT callee FROM cdrs WHERE rowid > ? AND caller = '103'", (since,))
    assert [r["callee"] for r in rows] == ["800"]  # one session and one CDR across both IVRs
    log = "".join(box.lines)
    assert "menu:main > key:3 > ivr:810" in log and "menu:main > key:1 > extension:102" in log


def test_a_loop_between_two_ivrs_ends_after_the_hand_over_limit(box: Appliance) -> None:
    since = last_cdr(box)
    before = hand_overs(box, "-> ivr 82")
    with Phone() as caller:
        assert caller.register("104", box.passwords["104"], registrar=box.sip) == 200
        call = caller.call(f"sip:820@{box.sip}", user="104")
        caller.wait(call, "confirmed", timeout=10)
        for hop in range(1, MAX_IVR_HOPS + 1):
            dtmf(caller, call, "3")
            wait_hand_overs(box, "-> ivr 82", before + hop)
        dtmf(caller, call, "3")  # one hand-over too many
        caller.wait(call, "disconnected", timeout=40)
    row = cdr(box, "820", since)
    assert row["cause"] == "ivr_loop"
    assert hand_overs(box, "-> ivr 82") == before + MAX_IVR_HOPS
