"""Erlang C against the textbook factorial formula, and the staffing calculator."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.acd.erlang import agents_needed, average_speed_of_answer, erlang_c, service_level
from appliance.domain.errors import DomainError


def textbook_erlang_c(n: int, a: Fraction) -> float:
    top = a**n / math.factorial(n) * Fraction(n) / (n - a)
    bottom = sum(a**k / math.factorial(k) for k in range(n)) + top
    return float(top / bottom)


@given(st.integers(1, 40), st.integers(1, 399))
def test_erlang_c_matches_the_factorial_formula(n: int, tenths: int) -> None:
    a = Fraction(tenths, 10)
    if a >= n:
        assert erlang_c(n, float(a)) == 1.0
    else:
        assert erlang_c(n, float(a)) == pytest.approx(textbook_erlang_c(n, a), rel=1e-9)


def test_worked_example() -> None:
    # 100 calls in 30 minutes at 180 s: 10 Erlangs; target 80 % answered within 20 s.
    plan = agents_needed(200, 180, 0.80, 20)
    assert plan.traffic_erlangs == pytest.approx(10)
    assert plan.agents == 14
    assert plan.service_level == pytest.approx(0.888, abs=1e-3)  # the published figure for this example
    assert service_level(13, 10, 180, 20) == pytest.approx(0.796, abs=1e-3)
    assert service_level(13, 10, 180, 20) < 0.80 <= plan.service_level
    assert plan.service_level == pytest.approx(1 - erlang_c(14, 10) * math.exp(-4 * 20 / 180))
    assert plan.asa_s == pytest.approx(average_speed_of_answer(14, 10, 180))
    assert plan.occupancy == pytest.approx(10 / 14)


def test_occupancy_cap_adds_agents() -> None:
    assert agents_needed(200, 180, 0.80, 20, max_occupancy=0.6).agents == 17


def test_overloaded_staffing_gives_no_service() -> None:
    assert service_level(10, 10, 180, 20) == 0.0 and math.isinf(average_speed_of_answer(5, 10, 180))


@pytest.mark.parametrize("args", [(-1, 180, 0.8, 20), (100, 0, 0.8, 20), (100, 180, 1.0, 20), (100, 180, 0.8, -1)])
def test_bad_input_is_refused(args: tuple[float, float, float, float]) -> None:
    with pytest.raises(DomainError):
        agents_needed(*args)


@given(st.floats(1, 2000), st.floats(30, 900), st.floats(0.5, 0.95), st.floats(5, 60))
def test_the_plan_is_the_fewest_agents_that_meet_the_target(
    calls: float, aht: float, target: float, threshold: float
) -> None:
    plan = agents_needed(calls, aht, target, threshold)
    assert plan.service_level >= target
    if plan.agents - 1 > plan.traffic_erlangs:
        assert service_level(plan.agents - 1, plan.traffic_erlangs, aht, threshold) < target
