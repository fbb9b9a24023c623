"""Agent feature codes from the desk phone."""

from __future__ import annotations

import pytest

from appliance.acd.agent import Agent, AgentState
from appliance.acd.feature_codes import AgentCommand, AgentCommandKind, FeatureCodes, apply_command
from appliance.domain.clock import ManualClock
from appliance.domain.errors import DomainError

CODES = FeatureCodes()


@pytest.mark.parametrize(
    "dialed, expected",
    [
        ("*45", AgentCommand(AgentCommandKind.LOGIN)),
        ("*46", AgentCommand(AgentCommandKind.LOGOUT)),
        ("*47", AgentCommand(AgentCommandKind.PAUSE)),
        ("*471", AgentCommand(AgentCommandKind.PAUSE, "lunch")),
        ("*473", AgentCommand(AgentCommandKind.PAUSE, "training")),
        ("*48", AgentCommand(AgentCommandKind.UNPAUSE)),
        ("201", None),
        ("*4", None),
    ],
)
def test_parse(dialed: str, expected: AgentCommand | None) -> None:
    assert CODES.parse(dialed) == expected


def test_unknown_reason_digits_get_a_clear_error() -> None:
    with pytest.raises(DomainError, match="unknown pause reason code '9'"):
        CODES.parse("*479")


def test_a_day_at_the_desk_phone() -> None:
    agent = Agent("a", ManualClock())
    for dialed, state in [
        ("*45", AgentState.AVAILABLE),
        ("*471", AgentState.PAUSED),
        ("*47", AgentState.AVAILABLE),  # bare pause code toggles back
        ("*47", AgentState.PAUSED),
        ("*48", AgentState.AVAILABLE),
        ("*46", AgentState.LOGGED_OUT),
    ]:
        command = CODES.parse(dialed)
        assert command is not None
        apply_command(agent, command)
        assert agent.state is state, dialed
    assert agent.pause_reason == ""


def test_pause_reason_is_kept() -> None:
    agent = Agent("a", ManualClock())
    apply_command(agent, AgentCommand(AgentCommandKind.LOGIN))
    apply_command(agent, AgentCommand(AgentCommandKind.PAUSE, "lunch"))
    assert agent.pause_reason == "lunch"


@pytest.mark.parametrize(
    "kwargs", [{"login": "*47"}, {"login": "45"}, {"unpause": "*471"}, {"reasons": {"x": "lunch"}}]
)
def test_bad_code_sets_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(DomainError):
        FeatureCodes(**kwargs)  # type: ignore[arg-type]
