"""API: the live wallboard (and its event stream), the agent desk, the staffing calculator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from appliance.acd.erlang import agents_needed
from appliance.domain.errors import DomainError
from appliance.web_services import wallboard
from appliance.web_services.errors import Invalid
from web.local.deps import AdminUser, AnyUser, RowId, ServicesDep, SupervisorUser
from web.local.models_live import (
    DeskCommand,
    DeskPublic,
    ExtensionLinkPublic,
    ExtensionLinkUpdate,
    StaffingPublic,
    WallboardPublic,
)
from web.local.services import Services

router = APIRouter(prefix="/api/v1", tags=["live"])


class CallLinePublic(BaseModel):
    """One live queue call on the wallboard (supervision: extension, mode and state while supervised)."""

    call_id: str
    caller: str
    queue: str
    state: Literal["waiting", "ringing", "talking"]
    agent: str | None
    seconds: float
    supervision: dict[str, str] | None


class LiveWallboardPublic(WallboardPublic):
    """The wallboard with its live calls (what listen / whisper / barge hang on)."""

    calls: list[CallLinePublic]

MAX_STAFFING_AGENTS = 1000


def board(services: Services) -> LiveWallboardPublic:
    """The wallboard now as the API answers it."""
    return LiveWallboardPublic.model_validate(wallboard.wallboard(services.ctl.queues).as_dict())


@router.get("/wallboard")
async def get_wallboard(_: SupervisorUser, services: ServicesDep) -> LiveWallboardPublic:
    """Per queue: waiting, longest wait, SL, ASA, abandons; agents with state and time in state; live calls."""
    return board(services)


async def _events(services: Services) -> AsyncIterator[str]:
    queues = services.ctl.queues
    async for snap in wallboard.stream(lambda: wallboard.wallboard(queues), queues.changes):
        yield f"event: wallboard\ndata: {json.dumps(snap.as_dict(), separators=(',', ':'))}\n\n"


# Kept out of the OpenAPI document: a stream never ends, so schema-driven clients would hang on it.
@router.get("/wallboard/stream", include_in_schema=False)
async def wallboard_stream(_: SupervisorUser, services: ServicesDep) -> StreamingResponse:
    """Server-sent events: a `wallboard` snapshot at once, on every ACD change, and every second."""
    return StreamingResponse(_events(services), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


@router.get("/me/agent")
async def get_desk(auth: AnyUser, services: ServicesDep) -> DeskPublic:
    """The caller's agent: linked extension, state, time in state, queues, pause reasons."""
    return DeskPublic.model_validate(vars(await services.desk.state(auth.user.id)))


@router.post("/me/agent")
async def desk_command(body: DeskCommand, auth: AnyUser, services: ServicesDep) -> DeskPublic:
    """Log in / out of the queues, pause with a reason, unpause (the feature codes' commands)."""
    state = await services.desk.command(auth.user.id, body.action, body.reason)
    return DeskPublic.model_validate(vars(state))


@router.put("/users/{user_id}/extension")
async def link_extension(user_id: RowId, body: ExtensionLinkUpdate, auth: AdminUser,
                         services: ServicesDep) -> ExtensionLinkPublic:
    """Link a user to the extension they take queue calls on (null unlinks); audited."""
    ext = await services.desk.link(auth.actor, user_id, body.extension)
    return ExtensionLinkPublic(user_id=user_id, extension=ext)


def staffing(calls_per_hour: float, aht_s: float, target_sl: float, threshold_s: float) -> StaffingPublic:
    """Erlang C staffing, refusals as 422 `staffing_invalid`."""
    try:
        plan = agents_needed(calls_per_hour, aht_s, target_sl, threshold_s, max_agents=MAX_STAFFING_AGENTS)
    except DomainError as exc:
        raise Invalid("staffing_invalid", str(exc), max_agents=MAX_STAFFING_AGENTS) from None
    return StaffingPublic(agents=plan.agents, traffic_erlangs=round(plan.traffic_erlangs, 4),
                          service_level=round(plan.service_level, 4), asa_s=round(plan.asa_s, 2),
                          occupancy=round(plan.occupancy, 4), wait_probability=round(plan.wait_probability, 4))


CallsPerHour = Annotated[float, Query(ge=0, le=100_000, description="forecast calls per hour")]
Aht = Annotated[float, Query(gt=0, le=36_000, description="average handle time, seconds (talk + wrap-up)")]
TargetSl = Annotated[float, Query(gt=0, lt=1, description="share to answer within the threshold, e.g. 0.8")]
Threshold = Annotated[float, Query(ge=0, le=3600, description="service-level threshold, seconds")]


@router.get("/staffing")
async def get_staffing(_: SupervisorUser, calls_per_hour: CallsPerHour, aht_s: Aht, target_sl: TargetSl = 0.8,
                       threshold_s: Threshold = 20.0) -> StaffingPublic:
    """Erlang C: agents needed on the phones for a target service level (math in docs/acd.md)."""
    return staffing(calls_per_hour, aht_s, target_sl, threshold_s)
