"""Call parking on the real box: *70 (or a blind transfer to 7001) parks the caller with music
on hold; dialling the slot from another phone retrieves it on the parked call's worker."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.media.tones import heard_tones
from tests.support.appliance import Appliance
from tests.support.audio import rms
from tests.support.phone import Phone

RING_GROUP = "600"
CALLER_HZ, AGENT_HZ, RETRIEVER_HZ = 500, 1200, 2000
TONES = (CALLER_HZ, AGENT_HZ, RETRIEVER_HZ)


def listen(pairs: list[tuple[Phone, str, Path]]) -> None:
    for phone, call, path in pairs:
        phone.record_rx(call, str(path))
    time.sleep(1.5)  # audio must flow for a while; nothing to await
    for phone, call, _ in pairs:
        phone.stop_record(call)


def talking(box: Appliance, caller: Phone, agent: Phone) -> tuple[str, str]:
    assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
    assert agent.register("102", box.passwords["102"], registrar=box.sip) == 200
    agent.auto_answer(True)
    call = caller.call(f"sip:{RING_GROUP}@{box.sip}", user="101")
    agent_call = agent.incoming(timeout=20)
    agent.wait(agent_call, "confirmed", timeout=10)
    caller.wait(call, "confirmed", timeout=10)
    agent.auto_answer(False)
    caller.send_tone(call, CALLER_HZ)
    agent.send_tone(agent_call, AGENT_HZ)
    return call, agent_call


def retrieve_and_talk(box: Appliance, caller: Phone, call: str, tmp_path: Path, slot: str) -> None:
    """103 dials the slot; caller and 103 hear each other; the caller hangs up."""
    with Phone() as retriever:
        assert retriever.register("103", box.passwords["103"], registrar=box.sip) == 200
        r_call = retriever.call(f"sip:{slot}@{box.sip}", user="103")
        retriever.wait(r_call, "confirmed", timeout=10)
        retriever.send_tone(r_call, RETRIEVER_HZ)
        listen([(caller, call, tmp_path / "caller.wav"), (retriever, r_call, tmp_path / "retriever.wav")])
        assert heard_tones(tmp_path / "caller.wav", TONES) == {RETRIEVER_HZ}
        assert heard_tones(tmp_path / "retriever.wav", TONES) == {CALLER_HZ}
        # the retriever landed on the parked caller's worker (pinned placement)
        rows = box.wait_rows("SELECT callee, worker FROM cdrs WHERE callee IN (?, ?) AND ended_at IS NULL"
                             " ORDER BY id DESC", (RING_GROUP, slot), n=2)
        workers = {r["callee"]: r["worker"] for r in rows}
        assert workers[slot] == workers[RING_GROUP]
        caller.hangup(call)
        retriever.wait(r_call, "disconnected", timeout=10)


def test_star70_parks_with_music_and_any_phone_retrieves(box: Appliance, tmp_path: Path) -> None:
    with Phone() as caller, Phone() as agent:
        call, agent_call = talking(box, caller, agent)
        agent.send_dtmf(agent_call, "*70")
        agent.wait(agent_call, "disconnected", timeout=10)  # the parker's leg ends
        listen([(caller, call, tmp_path / "parked.wav")])
        assert AGENT_HZ not in heard_tones(tmp_path / "parked.wav", TONES)
        assert rms(str(tmp_path / "parked.wav"), 0.3, 1.3) > 100  # music on hold, not silence
        retrieve_and_talk(box, caller, call, tmp_path, "7001")


def test_blind_transfer_to_a_slot_parks_the_call(box: Appliance, tmp_path: Path) -> None:
    with Phone() as caller, Phone() as agent:
        call, agent_call = talking(box, caller, agent)
        agent.transfer(agent_call, f"sip:7001@{box.sip}")
        agent.wait(agent_call, "disconnected", timeout=10)  # parked: the transferer's leg ends
        listen([(caller, call, tmp_path / "parked.wav")])
        assert AGENT_HZ not in heard_tones(tmp_path / "parked.wav", TONES)
        assert rms(str(tmp_path / "parked.wav"), 0.3, 1.3) > 100  # music on hold
        retrieve_and_talk(box, caller, call, tmp_path, "7001")


def test_dialling_an_empty_slot_is_refused(box: Appliance) -> None:
    with Phone() as phone:
        assert phone.register("104", box.passwords["104"], registrar=box.sip) == 200
        call = phone.call(f"sip:7005@{box.sip}", user="104")
        phone.wait(call, "disconnected", timeout=10)
        assert phone.last_status(call) == 404
