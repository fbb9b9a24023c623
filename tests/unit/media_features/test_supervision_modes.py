"""Supervision modes as one-way connections, mode switches as their difference, and the
supervision and call-phase state tables (pure)."""

from __future__ import annotations

import pytest

from appliance.controller.parking import first_free
from appliance.controller.supervision import (
    Mode,
    Supervision,
    SupervisionError,
    SupervisionState,
    connections,
    switch,
)
from appliance.controller.transfer import IllegalPhase, Phase

C, A, S = "w1-L1", "w1-L2", "w1-L3"


def test_listen_hears_both_and_is_heard_by_nobody() -> None:
    assert connections(Mode.LISTEN, C, A, S) == {(C, S), (A, S)}


def test_whisper_is_heard_by_the_agent_only() -> None:
    assert connections(Mode.WHISPER, C, A, S) == {(C, S), (A, S), (S, A)}


def test_barge_is_heard_by_both() -> None:
    assert connections(Mode.BARGE, C, A, S) == {(C, S), (A, S), (S, A), (S, C)}


def test_switching_changes_only_what_differs() -> None:
    listen, whisper, barge = (connections(m, C, A, S) for m in (Mode.LISTEN, Mode.WHISPER, Mode.BARGE))
    assert switch(listen, whisper) == ([], [(S, A)])
    assert switch(whisper, barge) == ([], [(S, C)])
    assert switch(barge, listen) == ([(S, C), (S, A)], [])
    assert switch(frozenset(), listen) == ([], sorted(listen))
    assert switch(listen, listen) == ([], [])


def test_supervision_states_follow_the_table() -> None:
    sup = Supervision("call", "105", Mode.LISTEN, S)
    sup.set_state(SupervisionState.ACTIVE)
    sup.set_state(SupervisionState.ENDED)
    with pytest.raises(SupervisionError):
        sup.set_state(SupervisionState.ACTIVE)
    assert Supervision("c", "105", Mode.BARGE, S).public() == {
        "call_id": "c", "supervisor_extension": "105", "mode": "barge", "state": "ringing"}


def test_call_phase_table() -> None:
    from appliance.controller.transfer import _PHASES

    assert Phase.PARKED in _PHASES[Phase.FLOW] and Phase.TALKING in _PHASES[Phase.PARKED]
    assert _PHASES[Phase.ENDED] == frozenset()
    assert issubclass(IllegalPhase, Exception)


def test_first_free_park_slot() -> None:
    slots = ("7001", "7002", "7003")
    assert first_free(slots, set()) == "7001"
    assert first_free(slots, {"7001", "7003"}) == "7002"
    assert first_free(slots, set(slots)) is None
