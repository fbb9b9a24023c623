"""API and page: system health (SIP edge, workers, modem, cloud, disk, CPU, temperature) and the live log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from web.local.deps import AdminUser, ServicesDep, SupervisorUser, Tr
from web.local.models_ops import LogLinePublic, SystemPublic
from web.local.render import render
from web.local.services import Services

router = APIRouter(tags=["system"])

LOG_BACKLOG = 200  # lines sent when the view opens
LOG_MAX_LINES = 5000  # then the stream ends; the page reconnects
LOG_MAX_S = 600.0


@router.get("/api/v1/system")
async def get_system(_: SupervisorUser, services: ServicesDep) -> SystemPublic:
    """Kamailio, media workers and their load, modem, cloud link, disk, CPU, memory, temperature."""
    return SystemPublic.model_validate(await services.health.snapshot())


@router.get("/api/v1/logs")
async def get_logs(_: AdminUser, services: ServicesDep,
                   after: Annotated[int, Query(ge=0, le=2**63 - 1, description="lines after this seq")] = 0,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[LogLinePublic]:
    """The controller's newest log lines (kept in memory, at most 1000)."""
    return [LogLinePublic(**asdict(ln)) for ln in services.logs.since(after, limit)]


async def _log_events(services: Services) -> AsyncIterator[str]:
    async for lines in services.logs.follow(LOG_BACKLOG, LOG_MAX_LINES, LOG_MAX_S):
        for ln in lines:
            yield f"event: log\nid: {ln.seq}\ndata: {json.dumps(asdict(ln), separators=(',', ':'))}\n\n"
        if not lines:
            yield ": open\n\n"


# A stream never ends on its own schedule: kept out of the OpenAPI document like the wallboard's.
@router.get("/api/v1/logs/stream", include_in_schema=False)
async def log_stream(_: AdminUser, services: ServicesDep) -> StreamingResponse:
    """Server-sent events: the last 200 lines, then each new one (ends after 5000 lines or 10 minutes)."""
    return StreamingResponse(_log_events(services), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


@router.get("/system", include_in_schema=False)
async def system_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr) -> Response:
    """Health of every part of the box; admins also see the live log."""
    return render(request, "system.html", tr, auth, s=await services.health.snapshot(),
                  logs=[asdict(ln) for ln in services.logs.since(0, 50)])
