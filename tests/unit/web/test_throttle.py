"""Login throttle: pure, time passed in."""

from __future__ import annotations

import pytest

from appliance.web_services.throttle import LoginThrottle


def test_locks_after_max_failures_in_window_and_unlocks_after_lockout() -> None:
    t = LoginThrottle(max_failures=3, window_s=60, lockout_s=300)
    assert not t.failed("alice", 0) and not t.failed("alice", 10)
    assert t.retry_after("alice", 10) == 0
    assert t.failed("alice", 20)
    assert t.retry_after("alice", 20) == 300
    assert t.retry_after("alice", 319) == 1
    assert t.retry_after("alice", 320) == 0
    assert t.retry_after("bob", 20) == 0  # keys are independent


def test_failures_outside_the_window_are_forgotten() -> None:
    t = LoginThrottle(max_failures=3, window_s=60, lockout_s=300)
    t.failed("a", 0)
    t.failed("a", 1)
    assert not t.failed("a", 61.5)  # the first failure slid out of the window
    assert not t.failed("a", 100)


def test_success_clears_and_prune_bounds_memory() -> None:
    t = LoginThrottle(max_failures=2, window_s=10, lockout_s=10)
    t.failed("a", 0)
    t.succeeded("a")
    assert not t.failed("a", 1)
    for i in range(1000):
        t.failed(f"spray{i}", 2)
    t.prune(100)
    assert t._keys == {}


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        LoginThrottle(max_failures=0)
