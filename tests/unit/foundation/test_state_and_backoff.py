"""The session state machine and the supervisor's restart backoff."""

import pytest

from appliance.domain.backoff import Backoff
from appliance.domain.errors import IllegalTransition
from appliance.domain.session_state import SessionState, transition


def test_legal_path() -> None:
    s = SessionState.RESERVED
    for nxt in (SessionState.ANSWERING, SessionState.HUNTING, SessionState.CONNECTED, SessionState.ENDED):
        s = transition(s, nxt)
    assert s is SessionState.ENDED


@pytest.mark.parametrize(
    "old,new",
    [
        (SessionState.ENDED, SessionState.ANSWERING),
        (SessionState.RESERVED, SessionState.CONNECTED),
        (SessionState.CONNECTED, SessionState.HUNTING),
    ],
)
def test_illegal_transitions_raise(old: SessionState, new: SessionState) -> None:
    with pytest.raises(IllegalTransition):
        transition(old, new)


def test_backoff_grows_caps_and_resets_after_a_healthy_run() -> None:
    b = Backoff(initial_s=0.5, factor=2, max_s=4, healthy_after_s=60)
    assert [b.on_exit(1) for _ in range(5)] == [0.5, 1, 2, 4, 4]
    assert b.on_exit(120) == 0.5
