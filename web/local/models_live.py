"""API bodies of the live pages: wallboard, agent desk, staffing calculator."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueLinePublic(BaseModel):
    """One queue on the wallboard (ratios are null until a call ended its wait)."""

    number: str
    name: str
    waiting: int
    longest_wait_s: float
    entered: int
    answered: int
    abandoned: int
    service_level: float | None
    asa_s: float | None
    abandon_rate: float | None
    agents_by_state: dict[str, int]


class AgentLinePublic(BaseModel):
    """One agent on the wallboard."""

    agent: str
    state: str
    reason: str
    time_in_state_s: float
    queues: list[str]


class WallboardPublic(BaseModel):
    """The wallboard at one moment."""

    queues: list[QueueLinePublic]
    agents: list[AgentLinePublic]


class DeskPublic(BaseModel):
    """The logged-in user's agent: linked extension, state, queues and the pause reasons offered."""

    extension: str | None
    state: str
    reason: str
    time_in_state_s: float
    queues: list[str]
    reasons: list[str]


class DeskCommand(_In):
    """An agent command; `reason` is needed for pause and must be one of the desk's reasons."""

    action: Literal["login", "logout", "pause", "unpause"]
    reason: str = Field(default="", max_length=32)


class ExtensionLinkUpdate(_In):
    """Link a user to an extension (null unlinks)."""

    extension: str | None = Field(default=None, max_length=8)


class ExtensionLinkPublic(BaseModel):
    """The user's linked extension."""

    user_id: int
    extension: str | None


class StaffingPublic(BaseModel):
    """Erlang C: the fewest agents meeting the target, and what they deliver."""

    agents: int
    traffic_erlangs: float
    service_level: float
    asa_s: float
    occupancy: float
    wait_probability: float
