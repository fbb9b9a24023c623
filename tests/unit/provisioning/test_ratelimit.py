"""Token bucket per source: a burst of misses, then a slow refill."""

from __future__ import annotations

import pytest

from provisioning.ratelimit import TokenBucketLimiter


def test_burst_is_spent_then_refilled_with_time() -> None:
    limiter = TokenBucketLimiter(burst=3, rate=0.5)
    for _ in range(3):
        assert limiter.allowed("10.0.0.1", 100.0)
        limiter.spend("10.0.0.1", 100.0)
    assert not limiter.allowed("10.0.0.1", 100.0)
    assert limiter.allowed("10.0.0.2", 100.0)  # other sources are not affected
    assert not limiter.allowed("10.0.0.1", 101.0)  # half a token
    assert limiter.allowed("10.0.0.1", 102.0)  # one token after two seconds


def test_bucket_never_holds_more_than_the_burst() -> None:
    limiter = TokenBucketLimiter(burst=2, rate=1.0)
    limiter.spend("a", 0.0)
    limiter.spend("a", 10_000.0)
    limiter.spend("a", 10_000.0)
    assert not limiter.allowed("a", 10_000.0)


def test_clock_going_backwards_adds_nothing() -> None:
    limiter = TokenBucketLimiter(burst=1, rate=1.0)
    limiter.spend("a", 50.0)
    assert not limiter.allowed("a", 10.0)


def test_number_of_tracked_sources_is_bounded() -> None:
    limiter = TokenBucketLimiter(burst=1, rate=0.001, max_keys=10)
    for i in range(100):
        limiter.spend(f"10.0.0.{i}", 0.0)
    assert len(limiter._buckets) == 10


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucketLimiter(burst=0)
