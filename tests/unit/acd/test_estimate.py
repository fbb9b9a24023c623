"""The wait estimate: formula, thin-history rule, and agreement with a simulated queue."""

from __future__ import annotations

import random

import pytest

from appliance.acd.dispatcher import Dispatcher
from appliance.acd.estimate import blended_aht, compare_estimates, estimate_for_call, estimate_wait
from appliance.acd.queue import Member, Queue, QueueConfig
from appliance.domain.clock import ManualClock
from appliance.domain.errors import DomainError

from .helpers import build


def test_position_based_formula() -> None:
    history = [100.0, 140.0, 120.0, 90.0, 150.0]  # mean 120
    e = estimate_wait(7, history, staffed=4, free=1, prior_aht_s=300)
    assert e.aht_s == pytest.approx(120) and e.confident
    assert e.seconds == pytest.approx((7 - 1) * 120 / 4)


def test_free_agents_mean_no_wait() -> None:
    assert estimate_wait(2, [60.0] * 5, staffed=3, free=2, prior_aht_s=60).seconds == 0


def test_nobody_staffed_means_no_estimate() -> None:
    e = estimate_wait(1, [60.0] * 5, staffed=0, free=0, prior_aht_s=60)
    assert e.seconds is None and not e.confident


def test_thin_history_is_shrunk_toward_the_prior_and_flagged() -> None:
    assert blended_aht([], 180) == 180
    assert blended_aht([60.0, 60.0], 180, min_samples=5) == pytest.approx((120 + 3 * 180) / 5)
    assert not estimate_wait(1, [60.0, 60.0], staffed=1, free=0, prior_aht_s=180).confident


def test_only_the_recent_window_counts() -> None:
    assert blended_aht([1000.0] * 10 + [60.0] * 20, 180, window=20) == 60


@pytest.mark.parametrize("kwargs", [{"position": 0}, {"staffed": 1, "free": 2}, {"prior_aht_s": 0}])
def test_bad_input_is_refused(kwargs: dict[str, float]) -> None:
    args: dict[str, float] = {"position": 1, "staffed": 2, "free": 0, "prior_aht_s": 60} | kwargs
    with pytest.raises(DomainError):
        estimate_wait(args["position"], [], int(args["staffed"]), int(args["free"]), args["prior_aht_s"])  # type: ignore[arg-type]


def test_compare_estimates() -> None:
    acc = compare_estimates([(60, 50), (120, 200), (0, 10)], tolerance_s=15, tolerance_ratio=0.25)
    assert acc.count == 3
    assert acc.mean_error_s == pytest.approx((10 - 80 - 10) / 3)
    assert acc.mean_abs_error_s == pytest.approx(100 / 3)
    assert acc.within_tolerance == pytest.approx(2 / 3)
    with pytest.raises(DomainError):
        compare_estimates([])


def simulate(agents: int, callers: int, mean_talk: float, seed: int) -> list[tuple[float, float]]:
    """A burst of callers into a queue of auto-answering agents with exponential talk times."""
    clock = ManualClock()
    rng = random.Random(seed)
    d = Dispatcher(clock, random.Random(seed))
    for i in range(agents):
        d.add_agent(f"a{i}")
        d.agent(f"a{i}").login()
    d.add_queue(Queue(QueueConfig("q", default_aht_s=mean_talk), [Member(f"a{i}") for i in range(agents)]))
    q = d.queue("q")
    for _ in range(40):  # history from earlier calls of the same kind
        q.record_handle_time(rng.expovariate(1 / mean_talk))
    ends: dict[str, float] = {}
    joined: dict[str, float] = {}

    def serve() -> None:
        for offer in d.step().offers:
            d.answered(offer.call_id, offer.agent_ids[0])
            ends[offer.call_id] = clock.monotonic() + rng.expovariate(1 / mean_talk)

    # Agents busy with calls already under way when the burst arrives.
    for i in range(agents):
        d.join("q", f"pre{i}", "1")
    serve()
    estimates: dict[str, float] = {}
    for i in range(callers):
        d.join("q", f"c{i}", "1")
        joined[f"c{i}"] = clock.monotonic()
        est = estimate_for_call(d, "q", f"c{i}").seconds
        assert est is not None
        estimates[f"c{i}"] = est
    waits: dict[str, float] = {}
    while ends:
        call = min(ends, key=lambda c: ends[c])
        clock.advance(ends.pop(call) - clock.monotonic())
        d.hangup(call)
        before = set(ends)
        serve()
        for new in set(ends) - before:
            waits[new] = clock.monotonic() - joined[new]
    return [(estimates[c], waits[c]) for c in estimates]


def test_estimates_agree_with_what_really_happened() -> None:
    # 40 bursts of 30 callers on 4 agents: single waits scatter (exponential talk times), the mean must not.
    pairs = [p for seed in range(40) for p in simulate(agents=4, callers=30, mean_talk=120, seed=seed)]
    acc = compare_estimates(pairs, tolerance_s=60, tolerance_ratio=0.3)
    mean_wait = sum(a for _, a in pairs) / len(pairs)
    assert abs(acc.mean_error_s) < 0.10 * mean_wait  # no systematic over- or under-promise
    assert acc.mean_abs_error_s < 0.40 * mean_wait
    assert acc.within_tolerance > 0.5


def test_a_caller_ringing_an_agent_no_longer_counts_ahead() -> None:
    d, _ = build(QueueConfig("q", default_aht_s=60), ["a"])
    d.join("q", "c1", "0600")
    d.join("q", "c2", "0601")
    d.step()  # c1 rings agent a
    assert d.queue("q").position("c2") == 2
    est = estimate_for_call(d, "q", "c2")
    assert est.position == 1 and est.seconds == 60.0  # the next to be served, one handle time away
