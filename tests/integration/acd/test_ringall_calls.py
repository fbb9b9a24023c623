"""A ring-all queue on real calls: every free agent's phone rings at once, the first to answer
is bridged, the others stop ringing and are released without a missed-call mark."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.acd.conftest import preseeded_box
from tests.integration.acd.test_queue_calls import events, last_id, login
from tests.support.appliance import Appliance
from tests.support.audio import has_tone
from tests.support.phone import Phone

QUEUE = "702"
AGENTS = ("103", "104", "105")


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    """An appliance with ring-all queue 702 (agents 103-105); 2 workers of 4 legs."""
    rows: list[tuple[str, tuple[object, ...]]] = [
        ("INSERT INTO queues(number, name, strategy, wrap_up_s, ring_timeout_s)"
         " VALUES (?, 'Ring all', 'ringall', 1, 15)", (QUEUE,)),
        *[("INSERT INTO queue_members(queue, position, extension) VALUES (?, ?, ?)", (QUEUE, pos, ext))
          for pos, ext in enumerate(AGENTS)],
    ]
    yield from preseeded_box(tmp_path_factory, "ringall", 2, rows)


def test_every_free_agent_rings_the_first_to_answer_takes_the_call(box: Appliance, tmp_path: Path) -> None:
    with Phone() as caller, Phone() as p103, Phone() as p104, Phone() as p105:
        phones = {"103": p103, "104": p104, "105": p105}
        for ext, phone in phones.items():
            assert phone.register(ext, box.passwords[ext], registrar=box.sip) == 200
            login(box, phone, ext)
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        since = last_id(box)
        call = caller.call(f"sip:{QUEUE}@{box.sip}", user="101")
        caller.wait(call, "confirmed", timeout=10)
        caller.send_tone(call, 1000)
        ringing = {ext: phone.incoming(timeout=25) for ext, phone in phones.items()}  # all three at once
        p104.answer(ringing["104"])
        p104.wait(ringing["104"], "confirmed", timeout=10)
        p103.wait(ringing["103"], "disconnected", timeout=10)  # the others stop ringing
        p105.wait(ringing["105"], "disconnected", timeout=10)
        heard_by_caller, heard_by_agent = tmp_path / "caller.wav", tmp_path / "agent.wav"
        caller.record_rx(call, str(heard_by_caller))
        p104.record_rx(ringing["104"], str(heard_by_agent))
        p104.send_tone(ringing["104"], 440)
        time.sleep(2.5)
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
        p104.wait(ringing["104"], "disconnected", timeout=10)

    assert has_tone(str(heard_by_caller), 440, 0.5), "the caller did not hear the agent who answered"
    assert has_tone(str(heard_by_agent), 1000, 0.5), "the agent did not hear the caller"
    story = events(box, "id > ?", (since,))
    offered = [e for e in story if e["type"] == "CallOffered"]
    assert sorted(offered[0]["data"]["agent_ids"]) == list(AGENTS)
    answered = [e for e in story if e["type"] == "AgentAnswered"]
    assert [e["agent_id"] for e in answered] == ["104"]
    released = {e["agent_id"] for e in story if e["type"] == "AgentReleased"}
    assert released == {"103", "105"}
    assert not [e for e in story if e["type"] == "AgentRingNoAnswer"], "a released agent was marked as a miss"
    cdr = box.wait_rows("SELECT * FROM cdrs WHERE callee = ? AND ended_at IS NOT NULL", (QUEUE,))[-1]
    assert cdr["answered_by"] == "104" and cdr["cause"] == "normal"
