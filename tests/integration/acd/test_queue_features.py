"""Queue features on real calls (Kamailio + pjsua2 workers + pjsua2 phones): position and
estimated-wait announcements compared with the real waits, callbacks that keep the place,
overflow to another queue (max wait, join-empty, leave-when-empty) and the post-call survey."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.acd.estimate import compare_estimates
from appliance.acd.events import SurveyAnswered
from appliance.acd.kpi import KpiBoard
from appliance.storage.db import migrate_sync
from tests.support.appliance import Appliance, make_appliance
from tests.support.audio import has_tone
from tests.support.phone import Phone

ANNOUNCE, CALLBACK, TIMEOUT_TO_702, EMPTY_TO_702, SURVEY = "702", "703", "704", "705", "706"
TALK_S, WRAP_S = 5.0, 1.0  # what agents do in the announcement test: the handle time is 6 s

QUEUES: list[tuple[str, list[str], dict[str, object]]] = [  # number, members, settings
    (ANNOUNCE, ["104"], {"wrap_up_s": WRAP_S, "position_every_s": 5, "default_aht_s": TALK_S + WRAP_S}),
    (CALLBACK, ["105"], {"wrap_up_s": 1, "callback_after_s": 1, "callback_max_attempts": 2, "callback_retry_s": 2}),
    (TIMEOUT_TO_702, ["102"], {"max_wait_s": 3, "on_timeout": "queue:702"}),
    (EMPTY_TO_702, ["103"], {
        "join_empty": "no_agent_logged_in", "leave_when_empty": "no_agent_ready", "on_empty": "queue:702",
    }),
    (SURVEY, ["102"], {"wrap_up_s": 1, "survey": 1}),
]


def preseed(data_dir: Path) -> None:
    """Create the test queues before the first start, and 5 past calls of 702 (6 s each) as history."""
    db = data_dir / "appliance.db"
    migrate_sync(db)
    conn = sqlite3.connect(db)
    try:
        with conn:
            for number, members, settings in QUEUES:
                cols = {"number": number, "name": f"Test {number}", "ring_timeout_s": 10, **settings}
                conn.execute(
                    f"INSERT INTO queues({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    tuple(cols.values()),
                )
                conn.executemany(
                    "INSERT INTO queue_members(queue, position, extension) VALUES (?, ?, ?)",
                    [(number, i, m) for i, m in enumerate(members)],
                )
            for n in range(5):
                data = {"queue_id": ANNOUNCE, "call_id": f"past-{n}", "at": float(n), "agent_id": "104",
                        "talk_s": TALK_S, "wrap_up_s": WRAP_S}
                conn.execute(
                    "INSERT INTO queue_events(at, mono, type, queue_id, call_id, agent_id, data)"
                    " VALUES ('2026-01-01T00:00:00Z', ?, 'CallEnded', ?, ?, '104', ?)",
                    (float(n), ANNOUNCE, f"past-{n}", json.dumps(data)),
                )
    finally:
        conn.close()


@pytest.fixture(scope="module")
def fbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    """One appliance for the module, 3 workers (4 legs each)."""
    data_dir = Path(tmp_path_factory.mktemp("acd-features")) / "data"
    data_dir.mkdir()
    preseed(data_dir)
    app = make_appliance(data_dir, workers=3)
    app.start()
    try:
        yield app
    finally:
        app.stop()


# ----- helpers -----


def events(box: Appliance, where: str = "1", args: tuple[object, ...] = ()) -> list[dict[str, Any]]:
    """Queue events as dicts (data decoded), in order."""
    rows = box.query(f"SELECT * FROM queue_events WHERE {where} ORDER BY id", args)
    return [{**dict(r), "data": json.loads(r["data"])} for r in rows]


def last_id(box: Appliance) -> int:
    """The newest queue event id."""
    return int(box.query("SELECT COALESCE(MAX(id), 0) AS n FROM queue_events")[0]["n"])


def wait_event(
    box: Appliance, since: int, kind: str, n: int = 1, timeout: float = 30.0, where: str = "1",
    args: tuple[object, ...] = (),
) -> list[dict[str, Any]]:
    """Wait for `n` events of a type after id `since` (optionally filtered further)."""
    sql = f"SELECT 1 FROM queue_events WHERE id > ? AND type = ? AND {where}"
    box.wait_rows(sql, (since, kind, *args), n=n, timeout=timeout)
    return events(box, f"id > ? AND type = ? AND {where}", (since, kind, *args))


def feature(box: Appliance, phone: Phone, user: str, code: str, expect: str) -> None:
    """Dial a feature code from `user` and wait until the agent event `expect` is logged."""
    since = last_id(box)
    call = phone.call(f"sip:{code}@{box.sip}", user=user)
    phone.wait(call, "disconnected", timeout=15)
    wait_event(box, since, expect, where="agent_id = ?", args=(user,))


def joined_call(box: Appliance, since: int, queue: str, number: str) -> str:
    """The ACD call id of the caller from `number` who joined `queue` after `since`."""
    rows = wait_event(box, since, "CallerJoined", where="queue_id = ? AND json_extract(data, '$.number') = ?",
                      args=(queue, number))
    return str(rows[-1]["call_id"])


def wait_answered(box: Appliance, call_id: str) -> None:
    """Wait until the box marked the call answered (after bridging and recording)."""
    box.wait_rows("SELECT 1 FROM cdrs WHERE call_id = ? AND answered_at IS NOT NULL", (call_id,))


def cdr(box: Appliance, call_id: str) -> dict[str, Any]:
    """The closed CDR of a call."""
    return dict(box.wait_rows("SELECT * FROM cdrs WHERE call_id = ? AND ended_at IS NOT NULL", (call_id,))[0])


# ----- 1. announcements and the estimate against reality -----


def test_position_and_wait_announced_and_the_estimate_compared_with_the_real_wait(fbox: Appliance) -> None:
    box = fbox
    with Phone() as agent, Phone() as callers:
        assert agent.register("104", box.passwords["104"], registrar=box.sip) == 200
        for user in ("101", "102", "103"):
            assert callers.register(user, box.passwords[user], registrar=box.sip) == 200
        feature(box, agent, "104", "*45", "AgentLoggedIn")
        agent.auto_answer(True)
        since = last_id(box)
        calls = [callers.call(f"sip:{ANNOUNCE}@{box.sip}", user=u) for u in ("101", "102", "103")]
        ids = [joined_call(box, since, ANNOUNCE, u) for u in ("101", "102", "103")]
        for _ in ids:  # the agent talks TALK_S seconds with each caller, in turn
            incoming = agent.incoming(timeout=40)
            agent.wait(incoming, "confirmed", timeout=10)
            time.sleep(TALK_S)  # the conversation (a duration, not a synchronisation)
            agent.hangup(incoming)
            agent.wait(incoming, "disconnected", timeout=10)
        for c in calls:
            callers.wait(c, "disconnected", timeout=10)
        feature(box, agent, "104", "*46", "AgentLoggedOut")

    joined = {e["call_id"]: e for e in events(box, "id > ? AND type = 'CallerJoined'", (since,))}
    answered = {e["call_id"]: e for e in events(box, "id > ? AND type = 'CallAnswered'", (since,))}
    order = sorted(ids, key=lambda c: joined[c]["mono"])
    assert sorted(order, key=lambda c: answered[c]["mono"]) == order  # FIFO
    said = events(box, "id > ? AND type = 'CallAnnounced'", (since,))
    by_call: dict[str, list[dict[str, Any]]] = {}
    for e in said:
        by_call.setdefault(e["call_id"], []).append(e)
    # Those who waited heard their position at entry and then every 5 s, never going up.
    second, third = order[1], order[2]
    assert by_call[second][0]["data"]["position"] == 1
    assert by_call[third][0]["data"]["position"] == 2
    positions = [e["data"]["position"] for e in by_call[third]]
    assert positions == sorted(positions, reverse=True) and len(positions) >= 2
    first_said = by_call[third][0]["data"]
    assert first_said["confident"] and first_said["said"] == ["queue-position:2", "wait-less-than-a-minute"]
    # The estimate against what really happened (wait still to go after each announcement).
    pairs = [
        (float(e["data"]["estimate_s"]), float(answered[c]["mono"]) - float(e["mono"]))
        for c in (second, third) for e in by_call[c]
    ]
    entry = [(float(by_call[c][0]["data"]["estimate_s"]), float(answered[c]["mono"]) - float(by_call[c][0]["mono"]))
             for c in (second, third)]
    acc_all, acc_entry = compare_estimates(pairs), compare_estimates(entry)
    print(f"\nEWT at entry (estimate, actual): {entry}; all announcements: {pairs}")
    print(f"entry: mean error {acc_entry.mean_error_s:+.2f} s; all: mean error {acc_all.mean_error_s:+.2f} s,"
          f" mean abs {acc_all.mean_abs_error_s:.2f} s")
    # At entry the estimate is the next free agent's handle times: within 30 % (or 2 s) of the real wait.
    for estimate, actual in entry:
        assert abs(estimate - actual) <= max(2.0, 0.3 * actual), (estimate, actual)
    # Later announcements ignore how far the current call has gone (memoryless): they may over-promise
    # the wait, never under-promise it by more than a second.
    assert all(estimate >= actual - 1.0 for estimate, actual in pairs), pairs
    for c in ids:
        assert cdr(box, c)["answered_by"] == "104"


# ----- 2. callbacks that keep the place -----


def test_callback_keeps_the_place_rings_the_agent_first_then_the_customer(fbox: Appliance, tmp_path: Path) -> None:
    box = fbox
    with Phone() as agent, Phone() as callers, Phone() as customer:
        assert agent.register("105", box.passwords["105"], registrar=box.sip) == 200
        for user in ("101", "102"):
            assert callers.register(user, box.passwords[user], registrar=box.sip) == 200
        assert customer.register("103", box.passwords["103"], registrar=box.sip) == 200
        feature(box, agent, "105", "*45", "AgentLoggedIn")
        agent.auto_answer(True)
        since = last_id(box)
        # X talks to the agent.
        x = callers.call(f"sip:{CALLBACK}@{box.sip}", user="101")
        x_id = joined_call(box, since, CALLBACK, "101")
        x_in = agent.incoming(timeout=20)
        agent.wait(x_in, "confirmed", timeout=10)
        # Y (103) waits, hears the callback offer, presses 1 and confirms the caller number with 1.
        y = customer.call(f"sip:{CALLBACK}@{box.sip}", user="103")
        y_id = joined_call(box, since, CALLBACK, "103")
        wait_event(box, since, "CallAnnounced", where="call_id = ? AND data LIKE '%queue-callback-offer%'",
                   args=(y_id,))
        customer.send_dtmf(y, "11")
        requested = wait_event(box, since, "CallbackRequested")[0]
        customer.wait(y, "disconnected", timeout=20)  # "we will call you back", then the box hangs up
        # Z (102) joins behind Y's kept place.
        z = callers.call(f"sip:{CALLBACK}@{box.sip}", user="102")
        z_id = joined_call(box, since, CALLBACK, "102")
        z_joined = events(box, "id > ? AND type = 'CallerJoined' AND call_id = ?", (since, z_id))[0]
        assert z_joined["data"]["position"] == 2
        # 103 calls again and asks again: refused, there is one callback per number and queue.
        mark = last_id(box)
        y2 = customer.call(f"sip:{CALLBACK}@{box.sip}", user="103")
        y2_id = joined_call(box, mark, CALLBACK, "103")
        wait_event(box, mark, "CallAnnounced", where="call_id = ? AND data LIKE '%queue-callback-offer%'",
                   args=(y2_id,))
        mark = last_id(box)
        customer.send_dtmf(y2, "11")
        dup = wait_event(box, mark, "CallbackRefused")[0]
        customer.hangup(y2)
        customer.wait(y2, "disconnected", timeout=10)
        wait_event(box, mark, "CallAbandoned", where="call_id = ?", args=(y2_id,))
        # X ends: after wrap-up the agent is rung first (Y's place), then the customer is dialled.
        customer.auto_answer(True)
        callers.hangup(x)
        callers.wait(x, "disconnected", timeout=10)
        agent_leg = agent.incoming(timeout=20)
        agent.wait(agent_leg, "confirmed", timeout=10)
        back = customer.incoming(timeout=30)
        customer.wait(back, "confirmed", timeout=10)
        heard = tmp_path / "agent-hears.wav"
        agent.record_rx(agent_leg, str(heard))
        customer.send_tone(back, 1000)
        connected = wait_event(box, since, "CallbackFinished")[0]
        box.wait_rows("SELECT 1 FROM cdrs WHERE kind = 'queue_callback' AND answered_at IS NOT NULL")
        time.sleep(1.5)  # the conversation
        customer.hangup(back)
        agent.wait(agent_leg, "disconnected", timeout=10)
        z_in = agent.incoming(timeout=20)  # then Z
        agent.wait(z_in, "confirmed", timeout=10)
        callers.hangup(z)
        callers.wait(z, "disconnected", timeout=10)
        feature(box, agent, "105", "*46", "AgentLoggedOut")

    assert requested["call_id"] == y_id and requested["data"]["number"] == "103"
    assert len(events(box, "id > ? AND type = 'CallbackRequested'", (since,))) == 1  # no duplicate
    assert dup["call_id"] == y2_id and "already has a callback" in dup["data"]["reason"]
    assert connected["call_id"] == y_id and connected["data"]["outcome"] == "connected"
    reserved = [e["call_id"] for e in events(box, "id > ? AND type = 'AgentReserved'", (since,))]
    assert reserved == [x_id, y_id, z_id]  # the callback kept its place ahead of Z
    assert has_tone(str(heard), 1000, 0.3)  # agent and customer are bridged
    assert cdr(box, y_id)["cause"] == "callback_requested"
    back_cdr = dict(box.wait_rows("SELECT * FROM cdrs WHERE kind = 'queue_callback' AND ended_at IS NOT NULL")[-1])
    assert back_cdr["callee"] == "103" and back_cdr["answered_by"] == "105" and back_cdr["cause"] == "normal"


def test_callback_to_an_entered_number_retries_then_gives_up(fbox: Appliance) -> None:
    box = fbox
    with Phone() as agent, Phone() as caller:
        assert agent.register("105", box.passwords["105"], registrar=box.sip) == 200
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        feature(box, agent, "105", "*45", "AgentLoggedIn")
        feature(box, agent, "105", "*472", "AgentPaused")  # nobody free: the caller waits
        since = last_id(box)
        call = caller.call(f"sip:{CALLBACK}@{box.sip}", user="101")
        call_id = joined_call(box, since, CALLBACK, "101")
        wait_event(box, since, "CallAnnounced", where="call_id = ? AND data LIKE '%queue-callback-offer%'",
                   args=(call_id,))
        caller.send_dtmf(call, "12")  # a callback, to another number:
        caller.send_dtmf(call, "1099#")  # not a number anyone answers
        requested = wait_event(box, since, "CallbackRequested")[0]
        caller.wait(call, "disconnected", timeout=20)
        agent.auto_answer(True)
        feature(box, agent, "105", "*47", "AgentUnpaused")
        for _ in range(2):  # two attempts, each rings the agent first
            leg = agent.incoming(timeout=30)
            agent.wait(leg, "disconnected", timeout=40)
        finished = wait_event(box, since, "CallbackFinished", timeout=40)[0]
        feature(box, agent, "105", "*46", "AgentLoggedOut")

    assert requested["data"]["number"] == "1099"
    retry = events(box, "id > ? AND type = 'CallbackRetry'", (since,))
    assert [e["data"]["attempts"] for e in retry] == [1]
    assert finished["data"]["outcome"] == "failed" and finished["data"]["attempts"] == 2
    assert float(finished["mono"]) - float(retry[0]["mono"]) >= 2.0  # the retry delay was honoured
    failed = box.query("SELECT cause FROM cdrs WHERE kind = 'queue_callback' AND callee = '1099'")
    assert [r["cause"] for r in failed] == ["callback_customer_no_answer"] * 2


# ----- 3. overflow to another queue -----


def test_max_wait_overflows_to_another_queue_in_the_same_call(fbox: Appliance) -> None:
    box = fbox
    with Phone() as agent, Phone() as caller:
        assert agent.register("104", box.passwords["104"], registrar=box.sip) == 200
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        feature(box, agent, "104", "*45", "AgentLoggedIn")
        agent.auto_answer(True)
        since = last_id(box)
        call = caller.call(f"sip:{TIMEOUT_TO_702}@{box.sip}", user="101")
        first = joined_call(box, since, TIMEOUT_TO_702, "101")
        incoming = agent.incoming(timeout=30)
        agent.wait(incoming, "confirmed", timeout=10)
        wait_answered(box, first)
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
        feature(box, agent, "104", "*46", "AgentLoggedOut")
    timed_out = wait_event(box, since, "CallTimedOut")[0]
    assert timed_out["call_id"] == first and timed_out["data"]["destination"] == "queue:702"
    assert float(timed_out["data"]["wait_s"]) >= 3.0
    again = joined_call(box, since, ANNOUNCE, "101")
    assert again == first  # one call, one CDR, through both queues
    answered = wait_event(box, since, "CallAnswered")[0]
    assert answered["queue_id"] == ANNOUNCE and answered["data"]["agent_id"] == "104"
    assert cdr(box, first)["answered_by"] == "104"


def test_join_empty_and_leave_when_empty_send_the_caller_on(fbox: Appliance) -> None:
    box = fbox
    with Phone() as agents, Phone() as caller:
        assert agents.register("104", box.passwords["104"], registrar=box.sip) == 200
        assert agents.register("103", box.passwords["103"], registrar=box.sip) == 200
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        feature(box, agents, "104", "*45", "AgentLoggedIn")
        agents.auto_answer(True)
        # Nobody logged in to 705: turned away at the door, to 702.
        since = last_id(box)
        call = caller.call(f"sip:{EMPTY_TO_702}@{box.sip}", user="101")
        refused = wait_event(box, since, "CallOverflowed")[0]
        incoming = agents.incoming(timeout=30)
        agents.wait(incoming, "confirmed", timeout=10)
        wait_answered(box, refused["call_id"])
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
        # 103 logged in but paused: the caller may join (someone is logged in) but leaves at once.
        feature(box, agents, "103", "*45", "AgentLoggedIn")
        feature(box, agents, "103", "*471", "AgentPaused")
        mark = last_id(box)
        call = caller.call(f"sip:{EMPTY_TO_702}@{box.sip}", user="101")
        left = wait_event(box, mark, "CallOverflowed")[0]
        incoming = agents.incoming(timeout=30)
        agents.wait(incoming, "confirmed", timeout=10)
        wait_answered(box, left["call_id"])
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
        feature(box, agents, "103", "*46", "AgentLoggedOut")
        feature(box, agents, "104", "*46", "AgentLoggedOut")
    assert refused["queue_id"] == EMPTY_TO_702 and refused["data"]["reason"] == "join_empty"
    assert refused["data"]["destination"] == "queue:702"
    assert not events(box, "id > ? AND id <= ? AND type = 'CallerJoined' AND queue_id = ?", (since, mark, EMPTY_TO_702))
    assert left["data"]["reason"] == "leave_empty"
    assert events(box, "id > ? AND type = 'CallerJoined' AND call_id = ?", (mark, left["call_id"]))[0]["queue_id"] \
        == EMPTY_TO_702
    for ev in (refused, left):
        assert cdr(box, ev["call_id"])["answered_by"] == "104"


# ----- 5. post-call survey -----


def test_post_call_survey_scores_are_stored_with_the_call_and_give_csat(fbox: Appliance) -> None:
    box = fbox
    scores = {"2": "", "4": ""}
    with Phone() as agent, Phone() as caller:
        assert agent.register("102", box.passwords["102"], registrar=box.sip) == 200
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        feature(box, agent, "102", "*45", "AgentLoggedIn")
        agent.auto_answer(True)
        since = last_id(box)
        for key in scores:
            mark = last_id(box)
            call = caller.call(f"sip:{SURVEY}@{box.sip}", user="101")
            call_id = joined_call(box, mark, SURVEY, "101")
            incoming = agent.incoming(timeout=20)
            agent.wait(incoming, "confirmed", timeout=10)
            agent.hangup(incoming)  # the agent hangs up; the caller stays for the survey
            wait_event(box, mark, "AgentCallEnded", where="call_id = ?", args=(call_id,))
            assert caller.state(call) == "confirmed"
            caller.send_dtmf(call, key, method="info")
            caller.wait(call, "disconnected", timeout=20)  # "thank you", then the box hangs up
            scores[key] = call_id
        feature(box, agent, "102", "*46", "AgentLoggedOut")
    answered = events(box, "id > ? AND type = 'SurveyAnswered'", (since,))
    assert {(e["call_id"], e["data"]["score"], e["agent_id"]) for e in answered} == {
        (scores["4"], 4, "102"), (scores["2"], 2, "102"),
    }
    board = KpiBoard()
    board.apply_all(SurveyAnswered(**e["data"]) for e in answered)
    kpis = board.snapshot(SURVEY, 0.0)
    assert kpis.surveys == 2 and kpis.csat == 0.5 and kpis.negative_rate == 0.5
    assert cdr(box, str(scores["4"]))["cause"] == "normal" and cdr(box, str(scores["4"]))["answered_by"] == "102"
