"""Callbacks keep the caller's place, reserve the agent first, retry with a limit, never duplicate."""

from __future__ import annotations

import pytest

from appliance.acd.callback import (
    CallbackPolicy,
    CallbackRecord,
    CallbackState,
    DuplicateCallback,
    pending_callbacks,
    transition,
)
from appliance.acd.dispatcher import Dispatcher
from appliance.acd.events import CallbackFinished, CallbackRequested
from appliance.acd.queue import QueueConfig
from appliance.domain.clock import ManualClock
from appliance.domain.errors import DomainError, IllegalTransition

from .helpers import build, offered


def queue_of_three() -> tuple[Dispatcher, ManualClock]:
    d, clock = build(QueueConfig("q"), ["a"])
    d.callbacks.policy = CallbackPolicy(max_attempts=2, retry_delay_s=60)
    d.agent("a").pause("x")
    for call in ("c1", "c2", "c3"):
        d.join("q", call, "0600")
        clock.advance(1)
    return d, clock


def test_callback_keeps_the_place_and_reserves_the_agent_before_dialling() -> None:
    d, clock = queue_of_three()
    clock.advance(100)
    [ev] = d.request_callback("c1", "+48 600 100 200").events
    assert isinstance(ev, CallbackRequested) and ev.number == "+48600100200" and ev.wait_s == 103
    assert d.queue("q").position("c1") == 1
    d.agent("a").unpause()
    out = d.step()
    assert [(o.call_id, o.callback) for o in out.offers] == [("c1", True)]
    assert d.callbacks.get("c1").state is CallbackState.AGENT_RINGING  # type: ignore[union-attr]
    out = d.answered("c1", "a")
    assert [(x.number, x.agent_id) for x in out.dials] == [("+48600100200", "a")]
    assert not any(type(e).__name__ == "CallAnswered" for e in out.events)
    [ev] = d.customer_answered("c1").events
    assert isinstance(ev, CallbackFinished) and ev.outcome == "connected" and ev.attempts == 1
    d.hangup("c1")
    assert d.callbacks.get("c1") is None
    d.request_callback("c2", "0600")  # the same number may ask again once the first is done


def test_never_a_duplicate_callback_for_the_same_number_and_queue() -> None:
    d, _ = queue_of_three()
    d.request_callback("c1", "0600 111")
    with pytest.raises(DuplicateCallback):
        d.request_callback("c2", "0600-111")
    assert not d.queue("q").find("c2").callback  # type: ignore[union-attr]
    with pytest.raises(DomainError, match="already a callback"):
        d.request_callback("c1", "0600 222")


def test_failed_dial_retries_in_the_same_place_then_gives_up() -> None:
    d, clock = queue_of_three()
    d.request_callback("c2", "0600222")
    d.agent("a").unpause()
    [offer] = d.step().offers
    assert offer.call_id == "c1"  # c1 is ahead of the callback
    d.answered("c1", "a")
    d.hangup("c1")
    assert offered(d.step()) == [("c2", ("a",))]
    d.answered("c2", "a")
    out = d.customer_failed("c2")
    assert [type(e).__name__ for e in out.events] == ["AgentCallEnded", "CallbackRetry"]
    assert d.agent("a").is_available()
    assert d.queue("q").position("c2") == 1  # back at its old place, ahead of c3
    assert d.next_deadline() == clock.monotonic() + 60
    assert offered(d.step()) == [("c3", ("a",))]  # not before the retry delay
    d.answered("c3", "a")
    d.hangup("c3")
    clock.advance(60)
    assert offered(d.step()) == [("c2", ("a",))]
    d.answered("c2", "a")
    out = d.customer_failed("c2")
    [ev] = [e for e in out.events if isinstance(e, CallbackFinished)]
    assert ev.outcome == "failed" and ev.attempts == 2
    assert d.queue("q").waiting == [] and d.callbacks.active() == []


def test_agent_no_answer_on_a_callback_keeps_it_queued() -> None:
    d, _ = queue_of_three()
    d.request_callback("c1", "0600111")
    d.agent("a").unpause()
    d.step()
    d.no_answer("c1", "a")
    assert d.callbacks.get("c1").state is CallbackState.QUEUED  # type: ignore[union-attr]
    assert d.queue("q").position("c1") == 1


def test_cancel_a_queued_callback() -> None:
    d, _ = queue_of_three()
    d.request_callback("c1", "0600111")
    [ev] = d.cancel_callback("c1").events
    assert isinstance(ev, CallbackFinished) and ev.outcome == "cancelled"
    assert d.queue("q").find("c1") is None
    d.request_callback("c2", "0600111")


def test_callbacks_do_not_time_out_or_abandon() -> None:
    d, clock = build(QueueConfig("q", max_wait_s=10), ["a"])
    d.agent("a").pause("x")
    d.join("q", "c1", "1")
    d.request_callback("c1", "0600111")
    clock.advance(100)
    assert d.step().redirects == []
    with pytest.raises(DomainError, match="cancel it instead"):
        d.abandon("c1")


@pytest.mark.parametrize("number", ["", "12", "abc", "+", "0600 11x"])
def test_bad_callback_number_is_refused_and_changes_nothing(number: str) -> None:
    d, _ = queue_of_three()
    with pytest.raises(DomainError, match="phone number"):
        d.request_callback("c1", number)
    assert not d.queue("q").find("c1").callback  # type: ignore[union-attr]
    assert d.callbacks.active() == []


def test_callback_transition_table() -> None:
    S = CallbackState
    assert transition(S.QUEUED, S.AGENT_RINGING) is S.AGENT_RINGING
    for final in (S.CONNECTED, S.FAILED, S.CANCELLED):
        for new in S:
            with pytest.raises(IllegalTransition):
                transition(final, new)
    with pytest.raises(IllegalTransition):
        transition(S.QUEUED, S.DIALING)


def test_callbacks_survive_a_restart_through_the_event_log() -> None:
    d, _ = build(QueueConfig("q"), ["a"])
    d.callbacks.policy = CallbackPolicy(max_attempts=3, retry_delay_s=60)
    d.agent("a").pause("x")
    log = []
    for call, prio in (("c1", 0), ("c2", 0), ("c3", 0), ("vip", 2), ("c4", 0)):
        log += d.join("q", call, "0600", priority=prio, skills={"pl"} if call == "c3" else None).events
    log += d.request_callback("c3", "0600333").events
    log += d.request_callback("c1", "0600111").events
    log += d.request_callback("vip", "0600999").events
    log += d.request_callback("c4", "0600444").events
    log += d.cancel_callback("c4").events
    d.agent("a").unpause()
    out = d.step()  # vip first
    log += out.events
    log += d.answered("vip", "a").events
    log += d.customer_failed("vip").events
    records = pending_callbacks(log)
    assert [(r.call_id, r.priority, r.attempts) for r in records] == [("vip", 2, 1), ("c1", 0, 0), ("c3", 0, 0)]
    assert records[2].skills == ("pl",)

    # The controller restarts: a fresh dispatcher, the callbacks re-queued in log order before new callers.
    d2, _ = build(QueueConfig("q"), ["a"], login=False)
    for r in records:
        d2.restore_callback(r)
    d2.join("q", "new", "0600")
    assert [c.call_id for c in d2.queue("q").waiting] == ["vip", "c1", "c3", "new"]
    assert d2.callbacks.get("vip").attempts == 1  # type: ignore[union-attr]
    with pytest.raises(DuplicateCallback):
        d2.request_callback("new", "0600111")
    with pytest.raises(DomainError, match="already in the ACD"):
        d2.restore_callback(CallbackRecord("c1", "q", "0600555"))


def test_a_queue_may_set_its_own_callback_policy() -> None:
    d, _ = build(QueueConfig("q", callback_policy=CallbackPolicy(max_attempts=1, retry_delay_s=5)), ["a"])
    d.callbacks.policy = CallbackPolicy(max_attempts=3, retry_delay_s=60)  # the box default, overridden
    d.agent("a").pause("x")
    d.join("q", "c1", "0600")
    d.request_callback("c1", "0600111")
    d.agent("a").unpause()
    assert offered(d.step()) == [("c1", ("a",))]
    d.answered("c1", "a")
    [ev] = [e for e in d.customer_failed("c1").events if isinstance(e, CallbackFinished)]
    assert ev.outcome == "failed" and ev.attempts == 1  # one attempt allowed by this queue


def test_a_retry_waits_the_queues_own_delay() -> None:
    d, clock = build(QueueConfig("q", callback_policy=CallbackPolicy(max_attempts=2, retry_delay_s=5)), ["a"])
    d.agent("a").pause("x")
    d.join("q", "c1", "0600")
    d.request_callback("c1", "0600111")
    d.agent("a").unpause()
    d.step()
    d.answered("c1", "a")
    d.customer_failed("c1")
    assert d.next_deadline() == clock.monotonic() + 5
