"""Blind and attended transfer (REFER) of a ring-group call on the real box: the worker dials
the target, the caller and the target hear each other, the transferer's leg ends, and the
CDR and recordings stay on the same call."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.integration.media.tones import heard_tones
from tests.support.appliance import Appliance
from tests.support.phone import Phone

RING_GROUP = "600"  # demo: hunts 102, 103, 104, 105
CALLER_HZ, AGENT_HZ, TARGET_HZ = 500, 1200, 2000
TONES = (CALLER_HZ, AGENT_HZ, TARGET_HZ)


def connect_to_agent(box: Appliance, caller: Phone, agent: Phone) -> tuple[str, str]:
    """101 calls ring group 600; 102 (auto-answering) takes it; both send their tone."""
    agent.auto_answer(True)
    call = caller.call(f"sip:{RING_GROUP}@{box.sip}", user="101")
    incoming = agent.incoming(timeout=20)
    agent.wait(incoming, "confirmed", timeout=10)
    caller.wait(call, "confirmed", timeout=10)
    agent.auto_answer(False)
    caller.send_tone(call, CALLER_HZ)
    agent.send_tone(incoming, AGENT_HZ)
    return call, incoming


def listen(pairs: list[tuple[Phone, str, Path]]) -> None:
    """Record what each phone hears on its call for a while."""
    for phone, call, path in pairs:
        phone.record_rx(call, str(path))
    time.sleep(1.5)  # audio must flow for a while; nothing to await
    for phone, call, _ in pairs:
        phone.stop_record(call)



def login_pair(box: Appliance, caller: Phone, agent: Phone, target: Phone) -> None:
    assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
    assert agent.register("102", box.passwords["102"], registrar=box.sip) == 200
    assert target.register("103", box.passwords["103"], registrar=box.sip) == 200


def test_blind_transfer_bridges_the_caller_with_the_target(box: Appliance, tmp_path: Path) -> None:
    with Phone() as caller, Phone() as agent, Phone() as target:
        login_pair(box, caller, agent, target)
        cdrs_before = len(box.query("SELECT 1 FROM cdrs WHERE kind = 'ring_group' AND ended_at IS NOT NULL"))
        call, agent_call = connect_to_agent(box, caller, agent)
        listen([(caller, call, tmp_path / "before.wav")])
        assert heard_tones(tmp_path / "before.wav", TONES) == {AGENT_HZ}

        agent.transfer(agent_call, f"sip:103@{box.sip}")  # the agent presses transfer, dials 103
        target_call = target.incoming(timeout=10)
        assert "101@" in target.info(target_call).from_uri  # the target sees who is calling
        target.answer(target_call)
        target.wait(target_call, "confirmed", timeout=10)
        target.send_tone(target_call, TARGET_HZ)
        agent.wait(agent_call, "disconnected", timeout=10)  # the transferer's leg ended
        agent.wait_until(lambda p: 200 in p.transfer_status(agent_call), 5, "NOTIFY sipfrag 200")

        listen([(caller, call, tmp_path / "caller.wav"), (target, target_call, tmp_path / "target.wav")])
        assert heard_tones(tmp_path / "caller.wav", TONES) == {TARGET_HZ}
        assert heard_tones(tmp_path / "target.wav", TONES) == {CALLER_HZ}
        assert caller.state(call) == "confirmed"

        caller.hangup(call)
        target.wait(target_call, "disconnected", timeout=10)
        rows = box.wait_rows(
            "SELECT * FROM cdrs WHERE kind = 'ring_group' AND ended_at IS NOT NULL ORDER BY id", n=cdrs_before + 1
        )
        cdr = dict(rows[-1])
        assert (cdr["caller"], cdr["callee"], cdr["answered_by"], cdr["cause"]) == ("101", RING_GROUP, "102", "normal")
        # one call, two recordings: caller with the agent, then caller with the target
        recs = box.wait_rows("SELECT * FROM recordings WHERE call_id = ? ORDER BY id", (cdr["call_id"],), n=2)
        assert [json.loads(r["parties"]) for r in recs] == [["101", "102"], ["101", "103"]]


def test_attended_transfer_with_replaces_swaps_the_targets_call(box: Appliance, tmp_path: Path) -> None:
    with Phone() as caller, Phone() as agent, Phone() as target:
        login_pair(box, caller, agent, target)
        call, agent_call = connect_to_agent(box, caller, agent)

        agent.hold(agent_call)  # the agent puts the caller on hold and calls 103 directly
        consult = agent.call(f"sip:103@{box.sip}", user="102")
        y_old = target.incoming(timeout=10)
        target.answer(y_old)
        agent.wait(consult, "confirmed", timeout=10)

        agent.transfer_replaces(agent_call, consult)  # REFER with Replaces to the worker
        y_new = target.incoming(timeout=10)  # the worker's INVITE with Replaces
        assert target.info(y_new).replaces == y_old
        target.wait(y_new, "confirmed", timeout=10)
        target.wait(y_old, "disconnected", timeout=10)
        agent.wait(consult, "disconnected", timeout=10)
        agent.wait(agent_call, "disconnected", timeout=10)
        target.send_tone(y_new, TARGET_HZ)

        listen([(caller, call, tmp_path / "caller.wav"), (target, y_new, tmp_path / "target.wav")])
        assert heard_tones(tmp_path / "caller.wav", TONES) == {TARGET_HZ}
        assert heard_tones(tmp_path / "target.wav", TONES) == {CALLER_HZ}

        target.hangup(y_new)
        caller.wait(call, "disconnected", timeout=10)


def test_transfer_to_a_target_that_rejects_leaves_the_caller_with_the_agent(box: Appliance, tmp_path: Path) -> None:
    with Phone() as caller, Phone() as agent, Phone() as target:
        login_pair(box, caller, agent, target)
        call, agent_call = connect_to_agent(box, caller, agent)
        agent.transfer(agent_call, f"sip:103@{box.sip}")
        target.hangup(target.incoming(timeout=10), code=486)
        agent.wait_until(lambda p: any(c >= 300 for c in p.transfer_status(agent_call)), 10, "failure NOTIFY")
        assert agent.state(agent_call) == "confirmed"
        listen([(caller, call, tmp_path / "caller.wav")])
        assert heard_tones(tmp_path / "caller.wav", TONES) == {AGENT_HZ}
        caller.hangup(call)
        agent.wait(agent_call, "disconnected", timeout=10)
