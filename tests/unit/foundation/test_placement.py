"""Placing sessions on workers by probed capacity."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.domain.placement import Placement


def test_sessions_spread_and_never_exceed_capacity() -> None:
    p = Placement()
    p.add_worker("w1", 4)
    p.add_worker("w2", 4)
    placed = [p.place(f"s{i}", 2, now=0) for i in range(4)]
    assert sorted(placed) == ["w1", "w1", "w2", "w2"]  # type: ignore[type-var]
    assert p.place("s5", 2, now=0) is None  # full: the edge answers 503
    p.release("s0")
    assert p.place("s5", 2, now=0) == placed[0]


def test_a_session_needing_more_legs_than_any_worker_has_free_is_refused() -> None:
    p = Placement()
    p.add_worker("w1", 4)
    p.add_worker("w2", 4)
    assert p.place("a", 3, now=0) and p.place("b", 3, now=0)
    assert p.total_free == 2
    assert p.place("c", 2, now=0) is None  # 1 + 1 free legs, but on two workers


def test_reservation_expires_when_the_caller_never_arrives() -> None:
    p = Placement(arrival_timeout_s=10)
    p.add_worker("w1", 2)
    assert p.place("a", 2, now=0) == "w1"
    assert p.place("b", 2, now=5) is None
    assert p.place("b", 2, now=11) == "w1"  # "a" expired


def test_arrived_reservation_does_not_expire() -> None:
    p = Placement(arrival_timeout_s=10)
    p.add_worker("w1", 2)
    p.place("a", 2, now=0)
    p.arrived("a")
    assert p.expire(now=1000) == []
    assert p.worker_of("a") == "w1"


def test_lost_worker_returns_its_sessions() -> None:
    p = Placement()
    p.add_worker("w1", 4)
    p.place("a", 2, now=0)
    assert p.remove_worker("w1") == ["a"]
    assert p.worker_of("a") is None


def test_zero_capacity_is_refused() -> None:
    with pytest.raises(ValueError):
        Placement().add_worker("w1", 0)


@given(
    caps=st.lists(st.integers(1, 8), min_size=1, max_size=6),
    ops=st.lists(st.tuples(st.booleans(), st.integers(1, 3)), max_size=60),
)
def test_no_worker_is_ever_overbooked(caps: list[int], ops: list[tuple[bool, int]]) -> None:
    p = Placement()
    for i, c in enumerate(caps):
        p.add_worker(f"w{i}", c)
    live: list[str] = []
    for n, (add, legs) in enumerate(ops):
        if add or not live:
            if p.place(f"s{n}", legs, now=0) is not None:
                live.append(f"s{n}")
            else:
                assert all(free < legs for free in (cap - used for used, cap in p.load().values()))
        else:
            p.release(live.pop(0))
        assert all(used <= cap for used, cap in p.load().values())
