"""API bodies of reports by interval, backup and restore, system status and the desk's caller history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueIntervalPublic(BaseModel):
    """One interval of a queue report for one queue, agent or `all` (ratios null without a denominator)."""

    interval_start: datetime
    key: str
    entered: int
    answered: int
    answered_in_sl: int
    abandoned: int
    short_abandoned: int
    timed_out: int
    service_level: float | None
    asa_s: float | None
    aht_s: float | None
    abandon_rate: float | None


class AgentIntervalPublic(BaseModel):
    """One interval of one agent: seconds per state, occupancy, pause seconds by reason."""

    interval_start: datetime
    agent_id: str
    available_s: float
    reserved_s: float
    on_call_s: float
    wrap_up_s: float
    paused_s: float
    occupancy: float | None
    pauses: dict[str, float]


class RestoreReportPublic(BaseModel):
    """What a restore changes (or would change, on a dry run), per configuration table."""

    dry_run: bool
    source_node: str
    created_at: str
    schema_version: int
    tables: dict[str, dict[str, int]]
    applied: bool


class DispositionCreate(_In):
    """The agent's wrap-up: a disposition code and a note on the call."""

    call_id: str = Field(min_length=1, max_length=128)
    code: str = Field(min_length=1, max_length=32)
    note: str = Field(default="", max_length=2000)


class DispositionPublic(BaseModel):
    """A disposition as stored."""

    id: int
    call_id: str
    agent: str
    code: str
    note: str
    created_at: str


class DeskCallPublic(BaseModel):
    """The agent's call now (live) or their last one, with the caller's history, SMS and dispositions."""

    call_id: str
    number: str
    queue: str
    live: bool
    history: list[dict[str, Any]]
    sms: list[dict[str, Any]]
    dispositions: list[dict[str, Any]]
    codes: list[str]


class SipEdgePublic(BaseModel):
    """Kamailio: answering OPTIONS or not, and the supervisor's last word on it."""

    state: str
    address: str
    options_code: int | None
    last_event: dict[str, str] | None


class SystemPublic(BaseModel):
    """The box's health now (derived on each read)."""

    sip_edge: SipEdgePublic
    workers: list[dict[str, Any]]
    sessions: int
    services: dict[str, dict[str, str]]
    modem: dict[str, Any]
    cloud: dict[str, Any]
    disk: dict[str, Any]
    cpu: dict[str, Any]
    memory: dict[str, int] | None
    temperature_c: float | None
    temperature: str


class LogLinePublic(BaseModel):
    """One line of the controller's log."""

    seq: int
    at: str
    level: str
    logger: str
    message: str


class ClickToCallCreate(_In):
    """A number the agent's desk phone should call: digits, an optional leading +, * and #."""

    number: str = Field(pattern=r"^\+?[0-9*#]{2,32}$", description="an extension, a queue or an external number")


class ClickToCallPublic(BaseModel):
    """A click-to-call being placed: the desk phone rings first, then the number."""

    call_id: str
    extension: str
    number: str
