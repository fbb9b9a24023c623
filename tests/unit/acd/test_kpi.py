"""KPI arithmetic from a hand-made event log, and agreement with a brute-force recount."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.acd.destination import HANGUP
from appliance.acd.dispatcher import Dispatcher
from appliance.acd.events import (
    AgentLoggedIn,
    AgentPaused,
    CallAbandoned,
    CallAnswered,
    CallbackFinished,
    CallbackRequested,
    CallEnded,
    CallerJoined,
    CallOverflowed,
    CallTimedOut,
    CallTransferred,
    QueueEvent,
)
from appliance.acd.kpi import KpiBoard
from appliance.acd.queue import Member, Queue, QueueConfig
from appliance.domain.clock import ManualClock
from appliance.domain.errors import DomainError


def joined(call: str, at: float) -> CallerJoined:
    return CallerJoined(queue_id="q", call_id=call, at=at, number="1", priority=0, position=1)


def test_hand_made_log() -> None:
    log: list[QueueEvent] = [
        joined("c1", 0), joined("c2", 1), joined("c3", 2), joined("c4", 3), joined("c5", 4), joined("c6", 5),
        joined("c7", 6),
        CallAnswered(queue_id="q", call_id="c1", at=10, agent_id="a", wait_s=10),
        CallAnswered(queue_id="q", call_id="c2", at=31, agent_id="b", wait_s=30),
        CallAbandoned(queue_id="q", call_id="c3", at=5, wait_s=3, position=2),  # short abandon
        CallAbandoned(queue_id="q", call_id="c4", at=43, wait_s=40, position=1),
        CallTimedOut(queue_id="q", call_id="c5", at=64, wait_s=60, destination=HANGUP),
        CallbackRequested(queue_id="q", call_id="c6", at=25, number="0600", wait_s=20),
        CallOverflowed(queue_id="q", call_id="x", at=7, reason="full", wait_s=0, destination=HANGUP),
        CallEnded(queue_id="q", call_id="c1", at=100, agent_id="a", talk_s=90, wrap_up_s=10),
        CallTransferred(queue_id="q", call_id="c2", at=90, agent_id="b", target="200"),
        CallEnded(queue_id="q", call_id="c2", at=91, agent_id="b", talk_s=60, wrap_up_s=10),
    ]  # fmt: skip
    board = KpiBoard(sl_threshold_s=20, short_abandon_s=5)
    board.apply_all(log)
    k = board.snapshot("q", now=100)
    assert (k.entered, k.answered, k.answered_in_sl, k.abandoned, k.short_abandoned) == (7, 2, 1, 1, 1)
    assert (k.timed_out, k.refused, k.callbacks_requested, k.callbacks_waiting, k.transferred) == (1, 1, 1, 1, 1)
    assert k.waiting == 1 and k.longest_wait_s == 94  # c7, joined at 6
    assert k.sl_denominator == 4  # 2 answered + 1 abandoned + 1 timed out
    assert k.service_level == pytest.approx(1 / 4)
    assert k.asa_s == pytest.approx(20)
    assert k.aht_s == pytest.approx((100 + 70) / 2)
    assert k.abandon_rate == pytest.approx(1 / 4)
    board.apply(CallbackFinished(queue_id="q", call_id="c6", at=120, outcome="connected", attempts=1))
    assert board.snapshot("q", 120).callbacks_waiting == 0
    assert board.snapshot("q", 120).callbacks_connected == 1


def test_empty_queue_has_no_ratios() -> None:
    k = KpiBoard().snapshot("nobody", 0)
    assert (k.service_level, k.asa_s, k.aht_s, k.abandon_rate, k.waiting, k.longest_wait_s) == (
        None, None, None, None, 0, 0.0,
    )  # fmt: skip


def test_agents_by_state() -> None:
    board = KpiBoard()
    board.apply(AgentLoggedIn(agent_id="a", at=0, old="logged_out", new="available"))
    board.apply(AgentLoggedIn(agent_id="b", at=0, old="logged_out", new="available"))
    board.apply(AgentPaused(agent_id="b", at=1, old="available", new="paused", reason="lunch"))
    assert board.agents_by_state() == {"available": 1, "paused": 1}
    assert board.agents_by_state(["a", "zed"]) == {"available": 1, "logged_out": 1}


def test_bad_thresholds_are_refused() -> None:
    with pytest.raises(DomainError):
        KpiBoard(sl_threshold_s=-1)


# One caller's story: (arrival, outcome, wait, talk, wrap)
story = st.tuples(
    st.floats(0, 1000, allow_nan=False),
    st.sampled_from(["answered", "abandoned", "timeout", "left_empty", "callback", "refused", "waiting"]),
    st.floats(0, 120, allow_nan=False),
    st.floats(1, 600, allow_nan=False),
    st.sampled_from([0.0, 10.0, 30.0]),
)


@settings(max_examples=200, deadline=None)
@given(stories=st.lists(story, max_size=40), sl=st.sampled_from([10.0, 20.0, 30.0]), short=st.sampled_from([0.0, 5.0]))
def test_kpis_agree_with_a_brute_force_recount(
    stories: list[tuple[float, str, float, float, float]], sl: float, short: float
) -> None:
    events: list[QueueEvent] = []
    for i, (t, outcome, wait, talk, wrap) in enumerate(stories):
        c = f"c{i}"
        if outcome == "refused":
            events.append(CallOverflowed(queue_id="q", call_id=c, at=t, reason="full", wait_s=0, destination=HANGUP))
            continue
        events.append(joined(c, t))
        end = t + wait
        if outcome == "answered":
            events.append(CallAnswered(queue_id="q", call_id=c, at=end, agent_id="a", wait_s=wait))
            events.append(CallEnded(queue_id="q", call_id=c, at=end + talk, agent_id="a", talk_s=talk, wrap_up_s=wrap))
        elif outcome == "abandoned":
            events.append(CallAbandoned(queue_id="q", call_id=c, at=end, wait_s=wait, position=1))
        elif outcome == "timeout":
            events.append(CallTimedOut(queue_id="q", call_id=c, at=end, wait_s=wait, destination=HANGUP))
        elif outcome == "left_empty":
            events.append(
                CallOverflowed(queue_id="q", call_id=c, at=end, reason="leave_empty", wait_s=wait, destination=HANGUP)
            )
        elif outcome == "callback":
            events.append(CallbackRequested(queue_id="q", call_id=c, at=end, number="0600", wait_s=wait))
    events.sort(key=lambda e: e.at)
    now = 2000.0
    board = KpiBoard(sl_threshold_s=sl, short_abandon_s=short)
    board.apply_all(events)
    k = board.snapshot("q", now)

    # Brute force, straight from the stories.
    answered = [s for s in stories if s[1] == "answered"]
    abandoned = [s for s in stories if s[1] == "abandoned" and s[2] >= short]
    ended = len(answered) + len(abandoned) + sum(s[1] in ("timeout", "left_empty") for s in stories)
    waiting = [s for s in stories if s[1] == "waiting"]
    assert k.entered == sum(s[1] != "refused" for s in stories)
    assert k.refused == sum(s[1] == "refused" for s in stories)
    assert k.waiting == len(waiting)
    assert k.longest_wait_s == pytest.approx(max((now - s[0] for s in waiting), default=0.0))
    assert k.answered == len(answered)
    assert k.sl_denominator == ended
    if ended:
        assert k.service_level == pytest.approx(sum(s[2] <= sl for s in answered) / ended)
        assert k.abandon_rate == pytest.approx(len(abandoned) / ended)
    else:
        assert k.service_level is None and k.abandon_rate is None
    if answered:
        assert k.asa_s == pytest.approx(sum(s[2] for s in answered) / len(answered))
        assert k.aht_s == pytest.approx(sum(s[3] + s[4] for s in answered) / len(answered))
    else:
        assert k.asa_s is None and k.aht_s is None


def test_kpis_from_a_dispatcher_run_match_the_hand_count() -> None:
    """Six callers, two agents with wrap-up: the board and a hand count of the run agree."""
    clock = ManualClock()
    d = Dispatcher(clock, random.Random(3))
    for a in ("a", "b"):
        d.add_agent(a)
        d.agent(a).login()
    d.add_queue(Queue(QueueConfig("q", wrap_up_s=5), [Member("a"), Member("b")]))
    board = KpiBoard(sl_threshold_s=20, short_abandon_s=5)
    for i in range(6):
        board.apply_all(d.join("q", f"c{i}", "1").events)
    waits = {}
    for _ in range(200):
        out = d.step()
        board.apply_all(out.events)
        for offer in out.offers:
            board.apply_all(d.answered(offer.call_id, offer.agent_ids[0]).events)
            waits[offer.call_id] = clock.monotonic()
        if clock.monotonic() == 12:
            board.apply_all(d.abandon("c5").events)
        clock.advance(1)
        for call in list(d.answered_calls()):
            if clock.monotonic() - waits[call] >= 10:
                board.apply_all(d.hangup(call).events)
        if not d.queue("q").waiting and not d.answered_calls():
            break
    k = board.snapshot("q", clock.monotonic())
    # Service order: c0,c1 at t=0; talk 10 s + wrap 5 s: c2,c3 at t=15; c4 at t=30; c5 abandoned at t=12.
    assert waits == {"c0": 0, "c1": 0, "c2": 15, "c3": 15, "c4": 30}
    assert (k.answered, k.abandoned, k.answered_in_sl) == (5, 1, 4)
    assert k.service_level == pytest.approx(4 / 6)
    assert k.asa_s == pytest.approx((0 + 0 + 15 + 15 + 30) / 5)
    assert k.aht_s == pytest.approx(15)


def test_survey_csat_and_negative_rate() -> None:
    from appliance.acd.events import SurveyAnswered

    board = KpiBoard()
    for i, score in enumerate([5, 4, 3, 2, 1, 5]):
        board.apply(SurveyAnswered(queue_id="q", call_id=f"c{i}", at=i, agent_id="a", score=score))
    k = board.snapshot("q", 10)
    assert k.surveys == 6 and k.csat == pytest.approx(3 / 6) and k.negative_rate == pytest.approx(2 / 6)
    with pytest.raises(DomainError, match="1-5"):
        SurveyAnswered(queue_id="q", call_id="x", at=0, agent_id="a", score=6)
