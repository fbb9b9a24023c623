"""Outbox overflow policy per stream (pure)."""

from __future__ import annotations

from appliance.sync.policy import Overflow, Policies, StreamPolicy


def test_durable_stream_over_bound_keeps_events_and_alarms_once_then_clears() -> None:
    p = Policies({"cdr": StreamPolicy("cdr", 10, Overflow.KEEP_AND_ALARM)})
    assert not p.admit("cdr", 9).raise_alarm
    first = p.admit("cdr", 10)
    assert first.raise_alarm and first.drop_oldest == 0
    assert not p.admit("cdr", 11).raise_alarm  # emitted on change only
    assert not p.after_removal("cdr", 9).clear_alarm  # hysteresis: 90 % of bound
    assert p.after_removal("cdr", 8).clear_alarm
    assert p.over_bound() == set()


def test_metrics_drop_oldest_past_bound() -> None:
    p = Policies({"metrics": StreamPolicy("metrics", 5, Overflow.DROP_OLDEST)})
    assert p.admit("metrics", 4).drop_oldest == 0
    assert p.admit("metrics", 5).drop_oldest == 1
    assert not p.admit("metrics", 50).raise_alarm


def test_unknown_stream_is_durable() -> None:
    assert Policies().for_stream("whatever").durable
    assert not Policies().for_stream("metrics").durable
