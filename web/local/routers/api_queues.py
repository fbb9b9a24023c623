"""API: queues (admins create, supervisors read); a new queue takes calls at once."""

from __future__ import annotations

import dataclasses
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from appliance.storage.queues import QueueRow
from web.local.deps import AdminUser, ServicesDep, SupervisorUser

router = APIRouter(prefix="/api/v1", tags=["queues"])

Strategy = Literal["ringall", "leastrecent", "fewestcalls", "rrmemory", "linear", "random", "wrandom"]
EmptyRule = Literal["never", "no_agent_logged_in", "no_agent_ready"]
Destination = str  # 'hangup', 'queue:701', 'extension:105', 'voicemail:700', 'external:0501234567', 'ivr:800'


class QueueCreate(BaseModel):
    """A new queue: members in order (linear / round-robin order), strategy, wrap-up, overflow."""

    model_config = ConfigDict(extra="forbid")
    number: str = Field(max_length=8)
    name: str = Field(max_length=64)
    members: list[str] = Field(max_length=200)
    strategy: Strategy = "leastrecent"
    wrap_up_s: float = Field(default=5.0, ge=0, le=3600)
    ring_timeout_s: float = Field(default=15.0, gt=0, le=300)
    max_wait_s: float | None = Field(default=None, gt=0, le=86400)
    on_timeout: Destination = Field(default="hangup", max_length=64)
    language: Literal["en", "he", "ar", "pl", "zh"] = "en"
    record: bool = True
    max_misses: int = Field(default=3, ge=1, le=20)
    position_every_s: float | None = Field(default=None, ge=10, le=3600)
    periodic_prompt: str | None = Field(default=None, max_length=64)
    periodic_every_s: float | None = Field(default=None, ge=10, le=3600)
    default_aht_s: float = Field(default=180.0, gt=0, le=36000)
    callback_after_s: float | None = Field(default=None, ge=0, le=86400)
    callback_max_attempts: int = Field(default=3, ge=1, le=10)
    callback_retry_s: float = Field(default=300.0, ge=10, le=86400)
    max_len: int | None = Field(default=None, ge=1, le=1000)
    on_full: Destination = Field(default="hangup", max_length=64)
    join_empty: EmptyRule = "never"
    leave_when_empty: EmptyRule = "never"
    on_empty: Destination = Field(default="hangup", max_length=64)
    survey: bool = False


class QueuePublic(QueueCreate):
    """A queue as configured."""

    model_config = ConfigDict(extra="ignore")


def public(row: QueueRow) -> QueuePublic:
    """The API's view of a stored queue."""
    return QueuePublic(**{**dataclasses.asdict(row), "members": list(row.members)})


@router.get("/queues")
async def list_queues(_: SupervisorUser, services: ServicesDep) -> list[QueuePublic]:
    """Every queue the ACD runs, by number."""
    return [public(r) for r in services.queues.queues()]


@router.post("/queues", status_code=201)
async def create_queue(body: QueueCreate, auth: AdminUser, services: ServicesDep) -> QueuePublic:
    """Create a queue (audited); its number routes to it at once. Refusals write nothing."""
    row = QueueRow(**{**body.model_dump(), "members": tuple(body.members)})
    return public(await services.queues.create(auth.actor, row))
