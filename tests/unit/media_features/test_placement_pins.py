"""Pinned placement (a parked call's retriever lands on its worker) and extra legs (pure)."""

from __future__ import annotations

from appliance.domain.placement import Placement


def pool() -> Placement:
    p = Placement()
    p.add_worker("w1", 4)
    p.add_worker("w2", 4)
    return p


def test_a_pinned_key_places_on_the_pinned_sessions_worker_only() -> None:
    p = pool()
    assert p.place("parked", 2, 0.0) == "w2"  # most room, then name
    p.pin("park:7001", "parked")
    assert p.pinned_worker("park:7001") == "w2"
    assert p.place("retriever", 2, 0.0, pin=p.pinned_worker("park:7001")) == "w2"
    assert p.load() == {"w1": (0, 4), "w2": (4, 4)}
    # full: the pinned worker cannot take more, and another worker is not an answer
    assert p.place("third", 1, 0.0, pin="w2") is None
    assert p.load() == {"w1": (0, 4), "w2": (4, 4)}


def test_a_pin_is_forgotten_with_its_session() -> None:
    p = pool()
    p.place("parked", 2, 0.0)
    p.pin("park:7001", "parked")
    p.release("parked")
    assert p.pinned_worker("park:7001") is None
    p.pin("park:7002", "parked")
    p.unpin("park:7002")
    assert p.pinned_worker("park:7002") is None
    assert p.pinned_worker("park:7003") is None


def test_extra_legs_only_when_the_worker_has_room() -> None:
    p = Placement()
    p.add_worker("w1", 4)
    p.place("call", 2, 0.0)
    assert p.add_legs("call", 1) is True  # a supervisor
    assert p.load() == {"w1": (3, 4)}
    p.place("other", 1, 0.0)
    assert p.add_legs("call", 1) is False  # full: nothing changes
    assert p.load() == {"w1": (4, 4)}
    p.remove_legs("call", 1)
    assert p.load() == {"w1": (3, 4)}
    p.remove_legs("call", 5)
    assert p.load() == {"w1": (2, 4)}  # never below the caller's own leg
    assert p.add_legs("nobody", 1) is False
    assert p.add_legs("call", 0) is False
