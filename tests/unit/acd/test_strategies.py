"""The choice sequence of every strategy, penalties, and the weighted-random distribution."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from appliance.acd.agent import Agent
from appliance.acd.queue import Member, Queue, QueueConfig, Strategy
from appliance.acd.strategies import Candidate, choose
from appliance.domain.clock import ManualClock
from appliance.domain.errors import DomainError

from .helpers import build, serve_one


def sequence(strategy: Strategy, n: int = 6, seed: int = 1, agents: tuple[str, ...] = ("a", "b", "c")) -> list[str]:
    d, clock = build(QueueConfig("q", strategy=strategy), agents, seed=seed)
    return ["+".join(serve_one(d, clock, "q", f"c{i}")) for i in range(n)]


def test_linear_always_rings_the_first_member_free() -> None:
    assert sequence(Strategy.LINEAR) == ["a"] * 6


def test_linear_skips_a_busy_member() -> None:
    d, _ = build(QueueConfig("q", strategy=Strategy.LINEAR), ["a", "b", "c"])
    d.join("q", "c1", "1")
    d.join("q", "c2", "2")
    out = d.step()
    assert [o.agent_ids for o in out.offers] == [("a",), ("b",)]


def test_round_robin_remembers_where_it_stopped() -> None:
    assert sequence(Strategy.ROUND_ROBIN, 7) == ["a", "b", "c", "a", "b", "c", "a"]


def test_round_robin_skips_unavailable_members_and_keeps_memory() -> None:
    d, clock = build(QueueConfig("q", strategy=Strategy.ROUND_ROBIN), ["a", "b", "c"])
    assert serve_one(d, clock, "q", "c1") == ("a",)
    d.agent("b").pause("lunch")
    assert serve_one(d, clock, "q", "c2") == ("c",)
    d.agent("b").unpause()
    assert serve_one(d, clock, "q", "c3") == ("a",)
    assert serve_one(d, clock, "q", "c4") == ("b",)


def test_longest_idle_rings_who_finished_a_call_longest_ago() -> None:
    assert sequence(Strategy.LONGEST_IDLE) == ["a", "b", "c", "a", "b", "c"]


def test_longest_idle_prefers_a_fresh_login_over_a_recent_call() -> None:
    d, clock = build(QueueConfig("q", strategy=Strategy.LONGEST_IDLE), ["a"])
    assert serve_one(d, clock, "q", "c1") == ("a",)
    clock.advance(5)
    d.add_agent("b")
    d.agent("b").login()
    d.queue("q").add_member(Member("b"))
    # a last ended a call at t=10; b logged in at t=16: a has been idle longer.
    assert serve_one(d, clock, "q", "c2") == ("a",)
    assert serve_one(d, clock, "q", "c3") == ("b",)


def test_fewest_calls_counts_answered_calls_in_this_queue() -> None:
    d, clock = build(QueueConfig("q", strategy=Strategy.FEWEST_CALLS), ["a", "b"])
    d.agent("a").calls_by_queue["q"] = 2
    d.agent("a").calls_by_queue["other"] = 0
    assert [serve_one(d, clock, "q", f"c{i}") for i in range(4)] == [("b",), ("b",), ("a",), ("b",)]


def test_ring_all_rings_every_free_member_and_releases_the_rest() -> None:
    d, _ = build(QueueConfig("q", strategy=Strategy.RING_ALL), ["a", "b", "c"])
    d.agent("c").pause("lunch")
    d.join("q", "c1", "1")
    [offer] = d.step().offers
    assert offer.agent_ids == ("a", "b")
    out = d.answered("c1", "b")
    assert d.agent("a").is_available() and d.agent("b").state.value == "on_call"
    assert [type(e).__name__ for e in out.events] == ["AgentAnswered", "AgentReleased", "CallAnswered"]


def test_an_offered_agent_who_could_not_be_rung_is_withdrawn_without_a_miss() -> None:
    d, _ = build(QueueConfig("q", strategy=Strategy.RING_ALL), ["a", "b", "c"])
    d.join("q", "c1", "1")
    [offer] = d.step().offers
    assert offer.agent_ids == ("a", "b", "c")
    out = d.withdraw("c1", "c")  # the worker had room for two agent legs only
    assert [type(e).__name__ for e in out.events] == ["AgentReleased"]
    assert d.agent("c").is_available() and d.agent("c").misses == 0
    d.no_answer("c1", "a")
    d.no_answer("c1", "b")
    assert (d.agent("a").misses, d.agent("b").misses) == (1, 1)
    with pytest.raises(DomainError, match="not offered"):
        d.withdraw("c1", "c")


def test_random_is_deterministic_for_a_seed_and_reaches_everyone() -> None:
    first = sequence(Strategy.RANDOM, 30, seed=7)
    assert first == sequence(Strategy.RANDOM, 30, seed=7)
    assert set(first) == {"a", "b", "c"}
    assert first != sequence(Strategy.RANDOM, 30, seed=8)


@pytest.mark.parametrize("strategy", [s for s in Strategy if s is not Strategy.WEIGHTED_RANDOM])
def test_penalty_is_a_hard_preference(strategy: Strategy) -> None:
    members = [Member("a", penalty=2), Member("b", penalty=1), Member("c", penalty=1)]
    d, clock = build(QueueConfig("q", strategy=strategy), members)
    for i in range(4):
        assert "a" not in serve_one(d, clock, "q", f"c{i}")
    d.agent("b").pause("x")
    d.agent("c").pause("x")
    assert serve_one(d, clock, "q", "last") == ("a",)


def test_weighted_random_follows_one_over_one_plus_penalty() -> None:
    clock = ManualClock()
    queue = Queue(QueueConfig("q", strategy=Strategy.WEIGHTED_RANDOM))
    members = [Member("a", 0), Member("b", 1), Member("c", 3)]
    cands = [Candidate(m, Agent(m.agent_id, clock), i) for i, m in enumerate(members)]
    rng = random.Random(42)
    counts = Counter(choose(queue, cands, rng)[0] for _ in range(7000))
    total = 1 + 1 / 2 + 1 / 4
    for agent_id, weight in (("a", 1.0), ("b", 0.5), ("c", 0.25)):
        assert counts[agent_id] / 7000 == pytest.approx(weight / total, abs=0.02)


def test_no_candidates_no_choice() -> None:
    assert choose(Queue(QueueConfig("q")), [], random.Random(1)) == []
