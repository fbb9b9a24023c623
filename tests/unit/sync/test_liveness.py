"""The fleet's liveness rule: offline after 1.4 x the box's keepalive of silence (so a dead box
is shown offline within 1.5 x keepalive of its last word, the fleet's own work included)."""

from __future__ import annotations

from appliance.sync.clock import ManualClock
from web.fleet.liveness import Liveness


def test_a_silent_box_is_offline_just_after_one_point_four_keepalives() -> None:
    clock = ManualClock()
    live = Liveness()
    live.announce("box-1", 2, clock.now())
    clock.advance(2.8)
    assert live.expire(clock.now()) == []  # exactly 1.4 x keepalive: not yet
    clock.advance(0.01)
    assert live.expire(clock.now()) == ["box-1"]
    assert live.expire(clock.now() + 10) == []  # reported once


def test_heartbeats_keep_a_box_alive_and_bring_it_back() -> None:
    clock = ManualClock()
    live = Liveness()
    live.announce("box-1", 30, clock.now())
    for _ in range(10):
        clock.advance(10)  # heartbeat every keepalive / 3
        assert not live.heard("box-1", clock.now())
        assert live.expire(clock.now()) == []
    assert live.deadline("box-1") == clock.now() + 42
    clock.advance(42.5)
    assert live.expire(clock.now()) == ["box-1"]
    assert live.heard("box-1", clock.now())  # back
    assert live.deadline("box-1") == clock.now() + 42


def test_each_box_is_judged_by_its_own_keepalive() -> None:
    clock = ManualClock()
    live = Liveness()
    live.announce("fast", 2, clock.now())
    live.announce("slow", 60, clock.now())
    assert live.next_deadline() == clock.now() + 2.8
    clock.advance(4)
    assert live.expire(clock.now()) == ["fast"]
    assert live.next_deadline() == clock.now() - 4 + 84


def test_a_box_that_said_offline_or_never_announced_is_not_watched() -> None:
    clock = ManualClock()
    live = Liveness()
    live.heard("no-birth", clock.now())  # no keepalive known: the Will decides
    live.announce("zero", 0, clock.now())
    live.announce("stopped", 2, clock.now())
    live.gone("stopped")
    clock.advance(1000)
    assert live.expire(clock.now()) == []
    assert live.next_deadline() is None


def test_a_default_keepalive_watches_boxes_known_before_their_birth() -> None:
    clock = ManualClock()
    live = Liveness(default_keepalive=10)
    live.heard("box-1", clock.now())
    clock.advance(14.5)
    assert live.expire(clock.now()) == ["box-1"]


def test_late_news_does_not_move_the_last_heard_time_back() -> None:
    clock = ManualClock()
    live = Liveness()
    live.announce("box-1", 2, clock.now())
    live.heard("box-1", clock.now() - 5)
    assert live.deadline("box-1") == clock.now() + 2.8
