"""Trunk health: hysteresis up and down, illegal transitions, which outcomes count."""

from __future__ import annotations

import pytest

from appliance.domain.errors import IllegalTransition
from appliance.trunks.health import TrunkHealth, TrunkState, call_failure_counts, ping_ok, transition


def test_down_after_consecutive_failures_and_up_after_consecutive_successes() -> None:
    h = TrunkHealth("itsp", fail_threshold=2, ok_threshold=2)
    assert h.observe(True, 200, 0.0) is TrunkState.UP  # first evidence decides from unknown
    assert h.observe(False, None, 1.0) is None  # one miss is not enough
    assert h.usable
    assert h.observe(True, 200, 2.0) is None  # the streak restarts
    assert h.observe(False, 503, 3.0) is None
    assert h.observe(False, None, 4.0) is TrunkState.DOWN
    assert not h.usable and h.changed_at == 4.0
    assert h.observe(True, 200, 5.0) is None  # one answer does not bring it back
    assert not h.usable
    assert h.observe(True, 200, 6.0) is TrunkState.UP
    assert h.usable


def test_unknown_trunk_is_tried_until_it_fails_enough() -> None:
    h = TrunkHealth("itsp", fail_threshold=3)
    assert h.usable
    assert h.observe(False, None, 0) is None
    assert h.observe(False, None, 0) is None
    assert h.observe(False, None, 0) is TrunkState.DOWN


def test_illegal_transition_raises() -> None:
    with pytest.raises(IllegalTransition):
        transition(TrunkState.UP, TrunkState.UNKNOWN)
    with pytest.raises(IllegalTransition):
        transition(TrunkState.DOWN, TrunkState.DOWN)


@pytest.mark.parametrize(("code", "ok"), [(200, True), (404, True), (405, True), (408, False), (503, False),
                                          (None, False), (100, False), (603, False)])
def test_ping_ok(code: int | None, ok: bool) -> None:
    assert ping_ok(code) is ok


@pytest.mark.parametrize(("code", "counts"), [(503, True), (500, True), (408, True), (486, False), (404, False),
                                              (487, False), (603, False)])
def test_call_failures_that_count_against_the_trunk(code: int, counts: bool) -> None:
    assert call_failure_counts(code) is counts
