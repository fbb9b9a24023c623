"""Live queue changes: replace_queue keeps the line and the history, remove_queue refuses a busy queue."""

from __future__ import annotations

import pytest

from appliance.acd.agent import AgentState
from appliance.acd.dispatcher import Dispatcher, QueueBusy
from appliance.acd.events import CallEnded
from appliance.acd.queue import Member, Queue, QueueConfig, Strategy, Tier
from appliance.domain.errors import DomainError

from .helpers import build, offered, serve_one


def line(d: Dispatcher, queue_id: str = "q") -> list[tuple[str, float, int]]:
    """(call, joined_at, seq) of each waiting caller, in service order."""
    return [(c.call_id, c.joined_at, c.seq) for c in d.queue(queue_id).waiting]


def test_replace_keeps_the_waiting_line_in_order_with_join_times() -> None:
    d, clock = build(QueueConfig("q"), ["a", "b"])
    d.agent("a").pause("x")
    d.agent("b").pause("x")
    for call, prio in (("c1", 0), ("c2", 0), ("vip", 3)):
        d.join("q", call, "1", priority=prio)
        clock.advance(10)
    before = line(d)
    assert [c for c, _, _ in before] == ["vip", "c1", "c2"]
    d.replace_queue(Queue(QueueConfig("q", wrap_up_s=30, strategy=Strategy.LINEAR), [Member("b"), Member("a")]))
    assert line(d) == before
    assert d.queue("q").config.wrap_up_s == 30
    assert d.queue("q").position("c1") == 2
    d.join("q", "c3", "1")  # a newcomer still goes behind the line carried over
    assert [c for c, _, _ in line(d)] == ["vip", "c1", "c2", "c3"]
    d.agent("a").unpause()
    d.agent("b").unpause()
    assert offered(d.step()) == [("vip", ("b",)), ("c1", ("a",))]  # new member order (linear: b first)


def test_replace_applies_new_tiers_by_the_original_join_time() -> None:
    d, clock = build(QueueConfig("q", skills=frozenset({"he"})), [Member("a", skills={"he": 3})])
    d.agent("a").pause("x")
    d.join("q", "c1", "1")
    clock.advance(40)
    d.agent("a").unpause()
    d.replace_queue(Queue(QueueConfig("q", skills=frozenset({"he"}), tiers=(Tier(0, 8), Tier(30, 3))),
                          [Member("a", skills={"he": 3})]))
    assert offered(d.step()) == [("c1", ("a",))]  # waited 40 s already: the 30 s tier is open


def test_default_skills_follow_the_queue_and_skills_an_ivr_set_are_kept() -> None:
    d, _ = build(QueueConfig("q", skills=frozenset({"he"})), ["a"], login=False)
    d.join("q", "default", "1")
    d.join("q", "ivr", "2", skills={"billing"})
    d.replace_queue(Queue(QueueConfig("q", skills=frozenset({"ar"})), [Member("a")]))
    q = d.queue("q")
    assert q.find("default").skills == {"ar"}  # type: ignore[union-attr]
    assert q.find("ivr").skills == {"billing"}  # type: ignore[union-attr]


def test_replace_keeps_round_robin_memory_and_handle_time_history() -> None:
    d, clock = build(QueueConfig("q", strategy=Strategy.ROUND_ROBIN), ["a", "b", "c"])
    assert serve_one(d, clock, "q", "c1", talk_s=60) == ("a",)
    history = list(d.queue("q").recent_handle_s)
    assert history == [60.0]
    d.replace_queue(Queue(QueueConfig("q", strategy=Strategy.ROUND_ROBIN), [Member("a"), Member("b"), Member("c")]))
    assert d.queue("q").recent_handle_s == history
    assert d.queue("q").last_offered == "a"
    assert serve_one(d, clock, "q", "c2") == ("b",)  # the turn passes on, not back to a


def test_round_robin_turn_passes_on_when_the_last_offered_member_is_removed() -> None:
    d, clock = build(QueueConfig("q", strategy=Strategy.ROUND_ROBIN), ["a", "b", "c", "d"])
    assert serve_one(d, clock, "q", "c1") == ("a",)
    assert serve_one(d, clock, "q", "c2") == ("b",)
    d.replace_queue(Queue(QueueConfig("q", strategy=Strategy.ROUND_ROBIN), [Member("a"), Member("c"), Member("d")]))
    assert d.queue("q").last_offered == "a"  # b left: the turn is after a, so c is next
    assert serve_one(d, clock, "q", "c3") == ("c",)
    # the last one offered leaves and nobody before them stayed: the turn starts at the top
    d.replace_queue(Queue(QueueConfig("q", strategy=Strategy.ROUND_ROBIN), [Member("d"), Member("a")]))
    assert serve_one(d, clock, "q", "c4") == ("d",)


def test_members_added_get_calls_and_members_removed_do_not() -> None:
    d, _ = build(QueueConfig("q", strategy=Strategy.LINEAR), ["a"])
    d.add_agent("new").login()
    d.replace_queue(Queue(QueueConfig("q", strategy=Strategy.LINEAR), [Member("new")]))
    assert d.staffed("q") == 1 and d.free("q") == 1
    d.join("q", "c1", "1")
    assert offered(d.step()) == [("c1", ("new",))]
    assert d.agent("a").state is AgentState.AVAILABLE  # left alone: still logged in, just not in q
    with pytest.raises(DomainError, match="unknown agents"):
        d.replace_queue(Queue(QueueConfig("q"), [Member("ghost")]))
    assert list(d.queue("q").members) == ["new"]  # the refusal changed nothing
    with pytest.raises(DomainError, match="unknown queue"):
        d.replace_queue(Queue(QueueConfig("nope"), [Member("a")]))


def test_a_removed_member_who_is_ringing_may_still_answer_and_is_not_offered_again() -> None:
    d, _ = build(QueueConfig("q", strategy=Strategy.LINEAR), ["a", "b"])
    d.join("q", "c1", "1")
    assert offered(d.step()) == [("c1", ("a",))]
    d.replace_queue(Queue(QueueConfig("q", strategy=Strategy.LINEAR), [Member("b")]))
    # The offer already rings on a's phone: it stands (the change governs the next offers).
    d.answered("c1", "a")
    assert d.answered_calls() == {"c1": ("q", "a")}
    d.hangup("c1")
    d.join("q", "c2", "1")
    assert offered(d.step()) == [("c2", ("b",))]


def test_a_removed_member_who_lets_it_ring_out_frees_the_caller_for_the_members_left() -> None:
    d, _ = build(QueueConfig("q", strategy=Strategy.LINEAR), ["a", "b"])
    d.agent("b").pause("x")
    d.join("q", "c1", "1")
    assert offered(d.step()) == [("c1", ("a",))]
    d.replace_queue(Queue(QueueConfig("q", strategy=Strategy.LINEAR), [Member("b")]))
    d.no_answer("c1", "a")
    assert d.agent("a").misses == 1 and d.agent("a").is_available()
    assert d.step().offers == []  # a is free but no longer a member
    d.agent("b").unpause()
    assert offered(d.step()) == [("c1", ("b",))]


def test_a_removed_member_on_a_call_finishes_it_with_the_new_wrap_up() -> None:
    d, clock = build(QueueConfig("q", wrap_up_s=5), ["a", "b"])
    d.join("q", "c1", "1")
    [offer] = d.step().offers
    d.answered("c1", offer.agent_ids[0])
    talker = offer.agent_ids[0]
    stays = "b" if talker == "a" else "a"
    d.replace_queue(Queue(QueueConfig("q", wrap_up_s=20), [Member(stays)]))
    assert d.agent(talker).state is AgentState.ON_CALL
    clock.advance(30)
    ended = [e for e in d.hangup("c1").events if isinstance(e, CallEnded)]
    assert [(e.agent_id, e.talk_s, e.wrap_up_s) for e in ended] == [(talker, 30, 20)]
    assert d.queue("q").recent_handle_s == [50.0]
    assert d.agent(talker).state is AgentState.WRAP_UP


def test_remove_queue_is_refused_while_a_caller_waits() -> None:
    d, _ = build(QueueConfig("q"), ["a"], login=False)
    d.join("q", "c1", "1")
    with pytest.raises(QueueBusy, match="1 calls"):
        d.remove_queue("q")
    assert "q" in d.queues and d.queue("q").position("c1") == 1
    d.abandon("c1")
    d.remove_queue("q")
    assert "q" not in d.queues
    with pytest.raises(DomainError, match="unknown queue"):
        d.join("q", "c2", "1")


def test_remove_queue_is_refused_while_a_call_is_connected() -> None:
    d, _ = build(QueueConfig("q", wrap_up_s=10), ["a"])
    d.join("q", "c1", "1")
    d.step()
    d.answered("c1", "a")
    with pytest.raises(QueueBusy):
        d.remove_queue("q")
    d.hangup("c1")
    d.remove_queue("q")  # an agent in wrap-up does not hold the queue
    assert "q" not in d.queues
    assert d.agent("a").state is AgentState.WRAP_UP


def test_remove_queue_is_refused_while_a_callback_is_open() -> None:
    d, _ = build(QueueConfig("q"), ["a"])
    d.agent("a").pause("x")
    d.join("q", "c1", "1")
    d.request_callback("c1", "0600111222")
    with pytest.raises(QueueBusy, match="1 calls"):  # the waiting place and the callback are one call
        d.remove_queue("q")
    d.agent("a").unpause()
    d.step()
    d.answered("c1", "a")  # the agent answered: the customer is being dialled
    with pytest.raises(QueueBusy):
        d.remove_queue("q")
    d.customer_failed("c1")  # a retry is due later: the callback is still open
    assert d.callbacks.get("c1") is not None
    with pytest.raises(QueueBusy):
        d.remove_queue("q")
    d.cancel_callback("c1")
    d.remove_queue("q")
    assert "q" not in d.queues


def test_removing_one_queue_leaves_the_others_routing() -> None:
    d, _ = build(QueueConfig("q"), ["a"])
    d.add_queue(Queue(QueueConfig("other"), [Member("a")]))
    d.remove_queue("q")
    d.join("other", "c1", "1")
    assert offered(d.step()) == [("c1", ("a",))]
    with pytest.raises(DomainError, match="unknown queue"):
        d.remove_queue("q")
