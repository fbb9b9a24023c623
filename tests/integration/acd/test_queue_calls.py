"""Queue 700 on real calls: agents log in with *45, callers hear the entry prompt, wait with
music on hold, and are bridged to the longest-idle agent; abandon, overflow and wrap-up order."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.appliance import Appliance
from tests.support.audio import has_tone, rms
from tests.support.phone import Phone
from tests.support.procs import find_pids

QUEUE = "700"


def feature(box: Appliance, phone: Phone, user: str, code: str) -> None:
    """Dial a feature code; the box answers, beeps and hangs up."""
    call = phone.call(f"sip:{code}@{box.sip}", user=user)
    phone.wait(call, "confirmed", timeout=10)
    phone.wait(call, "disconnected", timeout=10)


def events(box: Appliance, where: str = "1", args: tuple[object, ...] = ()) -> list[dict[str, Any]]:
    """Queue events as dicts (data decoded), in order."""
    rows = box.query(f"SELECT * FROM queue_events WHERE {where} ORDER BY id", args)
    return [{**dict(r), "data": json.loads(r["data"])} for r in rows]


def last_id(box: Appliance) -> int:
    """The newest queue event id (0 when none)."""
    return int(box.query("SELECT COALESCE(MAX(id), 0) AS n FROM queue_events")[0]["n"])


def login(box: Appliance, phone: Phone, agent: str) -> None:
    """Log an agent in with *45 and wait until the event log says so."""
    since = last_id(box)
    feature(box, phone, agent, "*45")
    box.wait_rows(
        "SELECT 1 FROM queue_events WHERE id > ? AND type = 'AgentLoggedIn' AND agent_id = ?", (since, agent)
    )


def logout(box: Appliance, phone: Phone, agent: str) -> None:
    """Log an agent out with *46 and wait for the event."""
    since = last_id(box)
    feature(box, phone, agent, "*46")
    box.wait_rows(
        "SELECT 1 FROM queue_events WHERE id > ? AND type = 'AgentLoggedOut' AND agent_id = ?", (since, agent)
    )


def wait_event(box: Appliance, since: int, kind: str, n: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Wait for `n` events of a type after id `since`."""
    box.wait_rows("SELECT 1 FROM queue_events WHERE id > ? AND type = ?", (since, kind), n=n, timeout=timeout)
    return events(box, "id > ? AND type = ?", (since, kind))


def test_agent_logs_in_and_a_caller_is_connected_after_the_prompt(box: Appliance, tmp_path: Path) -> None:
    with Phone() as agent, Phone() as caller:
        assert agent.register("102", box.passwords["102"], registrar=box.sip) == 200
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        login(box, agent, "102")
        since = last_id(box)
        agent.auto_answer(True)
        call = caller.call(f"sip:{QUEUE}@{box.sip}", user="101")
        caller.wait(call, "confirmed", timeout=10)
        heard_by_caller, heard_by_agent = tmp_path / "caller.wav", tmp_path / "agent.wav"
        caller.record_rx(call, str(heard_by_caller))
        t0 = time.monotonic()
        caller.send_tone(call, 1000)
        incoming = agent.incoming(timeout=20)
        agent.wait(incoming, "confirmed", timeout=10)
        connected_at = time.monotonic() - t0
        agent.send_tone(incoming, 440)
        agent.record_rx(incoming, str(heard_by_agent))
        time.sleep(2.5)  # conversation
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
        agent.wait(incoming, "disconnected", timeout=10)
        logout(box, agent, "102")

    # The entry prompt (speech) is heard before the agent; then the agent's 440 Hz, not music.
    assert connected_at > 1.5, "the agent was rung before the entry prompt ended"
    assert rms(str(heard_by_caller), 0.2, 1.2) > 300
    assert not has_tone(str(heard_by_caller), 440, 0.2, 1.2)
    assert has_tone(str(heard_by_caller), 440, connected_at + 0.5, connected_at + 2.0)
    assert has_tone(str(heard_by_agent), 1000, 0.5)

    cdr = box.wait_rows(
        "SELECT c.*, r.path, r.channels FROM cdrs c JOIN recordings r ON r.id = c.recording_id"
        " WHERE c.callee = ? AND c.ended_at IS NOT NULL", (QUEUE,)
    )[-1]
    assert cdr["kind"] == "queue" and cdr["answered_by"] == "102" and cdr["sip_code"] == 200
    assert cdr["cause"] == "normal" and cdr["channels"] == 2
    rec = str(box.data_dir / cdr["path"])
    assert has_tone(rec, 1000, 0.5, 2.0, channel=0) and has_tone(rec, 440, 0.5, 2.0, channel=1)

    story = [e["type"] for e in events(box, "id > ? AND call_id = ?", (since, cdr["call_id"]))]
    assert story[:3] == ["CallerJoined", "AgentReserved", "CallOffered"]
    assert "AgentAnswered" in story and "CallAnswered" in story
    assert story[-2:] == ["AgentCallEnded", "CallEnded"]
    ended = events(box, "id > ? AND type = 'CallEnded'", (since,))[-1]
    assert ended["agent_id"] == "102" and ended["data"]["wrap_up_s"] == 5.0


def test_caller_who_hangs_up_while_waiting_is_an_abandon(box: Appliance) -> None:
    with Phone() as caller:
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        since = last_id(box)
        call = caller.call(f"sip:{QUEUE}@{box.sip}", user="101")
        caller.wait(call, "confirmed", timeout=10)
        joined = wait_event(box, since, "CallerJoined")[0]
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
    abandoned = wait_event(box, since, "CallAbandoned")[0]
    assert abandoned["call_id"] == joined["call_id"] and abandoned["data"]["position"] == 1
    cdr = box.wait_rows(
        "SELECT * FROM cdrs WHERE call_id = ? AND ended_at IS NOT NULL", (joined["call_id"],)
    )[0]
    assert cdr["kind"] == "queue" and cdr["cause"] == "abandoned" and cdr["answered_by"] is None


def test_max_wait_with_no_agent_logged_in_overflows_to_the_extension(box: Appliance, tmp_path: Path) -> None:
    with Phone() as caller, Phone() as spare:
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        assert spare.register("105", box.passwords["105"], registrar=box.sip) == 200
        spare.auto_answer(True)
        since = last_id(box)
        call = caller.call(f"sip:701@{box.sip}", user="101")
        caller.wait(call, "confirmed", timeout=10)
        caller.send_tone(call, 1000)
        incoming = spare.incoming(timeout=30)
        spare.wait(incoming, "confirmed", timeout=10)
        heard = tmp_path / "spare.wav"
        spare.record_rx(incoming, str(heard))
        time.sleep(1.5)
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
        spare.wait(incoming, "disconnected", timeout=10)
    assert has_tone(str(heard), 1000, 0.3)
    timed_out = wait_event(box, since, "CallTimedOut")[0]
    assert timed_out["queue_id"] == "701" and timed_out["data"]["destination"] == "extension:105"
    assert float(timed_out["data"]["wait_s"]) >= 4.0
    assert not events(box, "id > ? AND type = 'CallOffered'", (since,))  # nobody was logged in
    cdr = box.wait_rows(
        "SELECT * FROM cdrs WHERE call_id = ? AND ended_at IS NOT NULL", (timed_out["call_id"],)
    )[0]
    assert cdr["kind"] == "queue" and cdr["answered_by"] == "105" and cdr["sip_code"] == 200


def test_two_agents_three_callers_third_gets_first_free_agent_after_wrap_up(box: Appliance) -> None:
    with Phone() as a1, Phone() as a2, Phone() as callers:
        assert a1.register("102", box.passwords["102"], registrar=box.sip) == 200
        assert a2.register("103", box.passwords["103"], registrar=box.sip) == 200
        assert callers.register("101", box.passwords["101"], registrar=box.sip) == 200
        login(box, a1, "102")
        login(box, a2, "103")
        a1.auto_answer(True)
        a2.auto_answer(True)
        phones = {"102": a1, "103": a2}
        since = last_id(box)
        calls = []
        for n in (1, 2, 3):
            calls.append(callers.call(f"sip:{QUEUE}@{box.sip}", user="101"))
            callers.wait(calls[-1], "confirmed", timeout=10)
            wait_event(box, since, "CallerJoined", n=n)
        answered = wait_event(box, since, "CallAnswered", n=2)
        joined = [e["call_id"] for e in wait_event(box, since, "CallerJoined", n=3)]
        first_agent = {e["call_id"]: e["data"]["agent_id"] for e in answered}
        assert set(first_agent) == {joined[0], joined[1]}  # in order of arrival
        free_first = str(first_agent[joined[0]])
        other = "103" if free_first == "102" else "102"
        assert phones[free_first].incoming(timeout=5) and phones[other].incoming(timeout=5)
        # The third waits: both agents talk. Caller 1 hangs up; its agent wraps up 5 s, then gets caller 3.
        assert not [e for e in events(box, "id > ? AND type = 'CallOffered'", (since,)) if e["call_id"] == joined[2]]
        callers.hangup(calls[0])
        callers.wait(calls[0], "disconnected", timeout=10)
        third = phones[free_first].incoming(timeout=20)
        rung_at = time.time()
        phones[free_first].wait(third, "confirmed", timeout=10)
        for c in calls[1:]:
            callers.hangup(c)
            callers.wait(c, "disconnected", timeout=10)
        logout(box, a1, "102")
        logout(box, a2, "103")

    answered = wait_event(box, since, "CallAnswered", n=3)
    assert [(e["call_id"], e["data"]["agent_id"]) for e in answered] == [
        (joined[0], free_first), (joined[1], other), (joined[2], free_first),
    ]
    ended = [e for e in events(box, "id > ? AND agent_id = ?", (since, free_first))]
    wrap_end = next(e for e in ended if e["type"] == "AgentWrapUpEnded")
    call_end = next(e for e in ended if e["type"] == "AgentCallEnded")
    offer = next(e for e in ended if e["type"] == "AgentReserved" and e["call_id"] == joined[2])
    assert float(wrap_end["mono"]) - float(call_end["mono"]) >= 5.0  # wrap-up honoured
    assert float(offer["mono"]) >= float(wrap_end["mono"])
    # Measured for docs/acd.md: agent free (wrap-up end) -> the agent's phone rings.
    free_wall = datetime.fromisoformat(str(wrap_end["at"]).replace("Z", "+00:00")).timestamp()
    print(
        f"\nACD free->offer {float(offer['mono']) - float(wrap_end['mono']):.4f} s;"
        f" wrap-up overrun {float(wrap_end['mono']) - float(call_end['mono']) - 5.0:.4f} s;"
        f" free->agent phone incoming (upper bound) {rung_at - free_wall:.3f} s"
    )


def test_lost_worker_ends_the_queue_call_and_frees_the_agent(box: Appliance) -> None:
    with Phone() as agent, Phone() as caller:
        assert agent.register("102", box.passwords["102"], registrar=box.sip) == 200
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        login(box, agent, "102")
        agent.auto_answer(True)
        since = last_id(box)
        call = caller.call(f"sip:{QUEUE}@{box.sip}", user="101")
        caller.wait(call, "confirmed", timeout=10)
        incoming = agent.incoming(timeout=20)
        agent.wait(incoming, "confirmed", timeout=10)
        answered = wait_event(box, since, "CallAnswered")[0]
        cdr = box.wait_rows(  # bridged and recording: the CDR is marked answered last
            "SELECT * FROM cdrs WHERE call_id = ? AND answered_at IS NOT NULL", (answered["call_id"],)
        )[0]
        pids = find_pids("appliance.cli worker", f"--name {cdr['worker']}", str(box.data_dir))
        assert len(pids) == 1
        os.kill(pids[0], signal.SIGKILL)
        dead = box.wait_rows(
            "SELECT * FROM cdrs WHERE call_id = ? AND ended_at IS NOT NULL", (answered["call_id"],)
        )[0]
        assert dead["cause"] == "worker_lost" and dead["sip_code"] == 500
        # The agent is available again at once (no wrap-up for a call the box lost).
        freed = wait_event(box, since, "AgentWrapUpEnded")[0]
        assert freed["agent_id"] == "102" and freed["data"]["new"] == "available"
        caller.hangup(call)
        agent.hangup(incoming)
        box.wait_workers(box.workers)  # the supervisor restarts the worker
        logout(box, agent, "102")
