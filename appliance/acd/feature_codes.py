"""Desk-phone feature codes for agents: *45 log in, *46 log out, *47 + reason digits pause."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from appliance.acd.agent import Agent, AgentState
from appliance.acd.events import AgentEvent
from appliance.domain.errors import DomainError


class AgentCommandKind(Enum):
    """What an agent asked for."""

    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    UNPAUSE = "unpause"


@dataclass(frozen=True)
class AgentCommand:
    """A parsed feature code."""

    kind: AgentCommandKind
    reason: str = ""


def _default_reasons() -> dict[str, str]:
    return {"1": "lunch", "2": "break", "3": "training", "4": "meeting", "5": "admin"}


@dataclass(frozen=True)
class FeatureCodes:
    """The codes and the pause reason digits; *47 with no digits toggles pause (reason 'pause')."""

    login: str = "*45"
    logout: str = "*46"
    pause: str = "*47"
    unpause: str = "*48"
    reasons: Mapping[str, str] = field(default_factory=_default_reasons)

    def __post_init__(self) -> None:
        codes = [self.login, self.logout, self.pause, self.unpause]
        if len(set(codes)) != 4 or any(not c.startswith("*") or not c[1:].isdigit() for c in codes):
            raise DomainError(f"feature codes must be distinct '*' + digits, got {codes}")
        for other in (self.login, self.logout, self.unpause):
            if other.startswith(self.pause):
                raise DomainError(f"{other} starts with the pause code {self.pause}: reason digits would be ambiguous")
        if any(not d.isdigit() for d in self.reasons):
            raise DomainError(f"pause reason codes must be digits, got {sorted(self.reasons)}")

    def parse(self, dialed: str) -> AgentCommand | None:
        """The agent command in a dialled string, None when it is an ordinary number."""
        dialed = dialed.strip()
        exact = {
            self.login: AgentCommandKind.LOGIN,
            self.logout: AgentCommandKind.LOGOUT,
            self.unpause: AgentCommandKind.UNPAUSE,
        }
        if dialed in exact:
            return AgentCommand(exact[dialed])
        if dialed == self.pause:
            return AgentCommand(AgentCommandKind.PAUSE)
        if dialed.startswith(self.pause):
            digits = dialed[len(self.pause) :]
            if digits not in self.reasons:
                known = ", ".join(f"{k}={v}" for k, v in sorted(self.reasons.items()))
                raise DomainError(f"unknown pause reason code {digits!r} (known: {known})")
            return AgentCommand(AgentCommandKind.PAUSE, self.reasons[digits])
        return None


def apply_command(agent: Agent, command: AgentCommand) -> list[AgentEvent]:
    """Carry out a feature code on an agent; a bare pause code toggles pause."""
    if command.kind is AgentCommandKind.LOGIN:
        return agent.login()
    if command.kind is AgentCommandKind.LOGOUT:
        return agent.logout()
    if command.kind is AgentCommandKind.UNPAUSE:
        return agent.unpause()
    if not command.reason and agent.state is AgentState.PAUSED:
        return agent.unpause()
    return agent.pause(command.reason or "pause")
