"""Parking by blind transfer and the park timeout on the real box (Kamailio + workers + pjsua2
phones): the transferer's phone is told the transfer succeeded (NOTIFY sipfrag 200), the
slot is retrieved from a third phone with audio both ways, an unretrieved call rings back
the parker after `extra.parking.timeout_s`, and a parked caller who hangs up frees the slot."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.media.tones import heard_tones
from tests.support.appliance import Appliance, make_appliance
from tests.support.phone import Phone

RING_GROUP = "600"  # demo: hunts 102, 103, 104, 105
PARK_TIMEOUT_S = 8
CALLER_HZ, AGENT_HZ, OTHER_HZ = 500, 1200, 2000
TONES = (CALLER_HZ, AGENT_HZ, OTHER_HZ)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    """A box whose parked calls return to the parker after PARK_TIMEOUT_S."""
    data_dir = Path(tmp_path_factory.mktemp("park")) / "data"
    data_dir.mkdir()
    (data_dir / "appliance.json").write_text(json.dumps({"extra": {"parking": {"timeout_s": PARK_TIMEOUT_S}}}))
    app = make_appliance(data_dir, workers=2)
    app.start()
    try:
        yield app
    finally:
        app.stop()


def listen(pairs: list[tuple[Phone, str, Path]]) -> None:
    """Record what each phone hears on its call for a while."""
    for phone, call, path in pairs:
        phone.record_rx(call, str(path))
    time.sleep(1.5)  # audio must flow for a while; nothing to await
    for phone, call, _ in pairs:
        phone.stop_record(call)


def talking(box: Appliance, caller: Phone, agent: Phone) -> tuple[str, str]:
    """101 calls ring group 600, 102 answers; both send their tone."""
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


def park_by_transfer(agent: Phone, agent_call: str, box: Appliance, slot: str) -> None:
    """The agent blind-transfers the call to `slot`; its phone hears the transfer succeeded."""
    agent.transfer(agent_call, f"sip:{slot}@{box.sip}")
    agent.wait_until(lambda p: any(c >= 200 for c in p.transfer_status(agent_call)), 10, "final NOTIFY")
    assert [c for c in agent.transfer_status(agent_call) if c >= 200] == [200]
    agent.wait(agent_call, "disconnected", timeout=10)  # parked: the transferer's leg ends


def test_blind_transfer_to_a_slot_notifies_200_and_a_third_phone_retrieves(box: Appliance, tmp_path: Path) -> None:
    with Phone() as caller, Phone() as agent, Phone() as retriever:
        call, agent_call = talking(box, caller, agent)
        park_by_transfer(agent, agent_call, box, "7001")
        assert retriever.register("103", box.passwords["103"], registrar=box.sip) == 200
        r_call = retriever.call(f"sip:7001@{box.sip}", user="103")
        retriever.wait(r_call, "confirmed", timeout=10)
        retriever.send_tone(r_call, OTHER_HZ)
        listen([(caller, call, tmp_path / "caller.wav"), (retriever, r_call, tmp_path / "retriever.wav")])
        assert heard_tones(tmp_path / "caller.wav", TONES) == {OTHER_HZ}
        assert heard_tones(tmp_path / "retriever.wav", TONES) == {CALLER_HZ}
        caller.hangup(call)
        retriever.wait(r_call, "disconnected", timeout=10)
        cdr = box.wait_rows("SELECT * FROM cdrs WHERE callee = ? AND ended_at IS NOT NULL", (RING_GROUP,))[-1]
        assert (cdr["answered_by"], cdr["cause"]) == ("102", "normal")


def test_an_unretrieved_call_rings_back_the_parker(box: Appliance, tmp_path: Path) -> None:
    with Phone() as caller, Phone() as agent:
        call, agent_call = talking(box, caller, agent)
        park_by_transfer(agent, agent_call, box, "7002")
        parked_at = time.monotonic()
        back = agent.incoming(timeout=PARK_TIMEOUT_S + 10)  # nobody retrieved: the parker's phone rings
        waited = time.monotonic() - parked_at
        assert waited >= PARK_TIMEOUT_S - 1, f"rang back after {waited:.1f} s"
        assert "101@" in agent.info(back).from_uri  # the parked caller is calling back
        agent.answer(back)
        agent.wait(back, "confirmed", timeout=10)
        agent.send_tone(back, AGENT_HZ)
        listen([(caller, call, tmp_path / "caller.wav"), (agent, back, tmp_path / "agent.wav")])
        assert heard_tones(tmp_path / "agent.wav", TONES) == {CALLER_HZ}
        assert heard_tones(tmp_path / "caller.wav", TONES) == {AGENT_HZ}
        agent.hangup(back)
        caller.wait(call, "disconnected", timeout=10)


def test_a_parked_caller_who_hangs_up_frees_the_slot(box: Appliance) -> None:
    with Phone() as caller, Phone() as agent, Phone() as other:
        call, agent_call = talking(box, caller, agent)
        park_by_transfer(agent, agent_call, box, "7003")
        caller.hangup(call)
        box.wait_rows("SELECT * FROM cdrs WHERE callee = ? AND caller = '101' AND ended_at IS NOT NULL"
                      " AND call_id NOT IN (SELECT call_id FROM cdrs WHERE ended_at IS NULL)", (RING_GROUP,))
        assert other.register("104", box.passwords["104"], registrar=box.sip) == 200
        deadline = time.monotonic() + 10
        while True:  # the slot is freed when the parked session ends, just after its CDR closes
            o_call = other.call(f"sip:7003@{box.sip}", user="104")
            other.wait(o_call, "disconnected", timeout=10)
            if other.last_status(o_call) == 404 or time.monotonic() > deadline:
                break
        assert other.last_status(o_call) == 404  # the slot is empty again
        agent.wait_until(lambda p: True, 1)
