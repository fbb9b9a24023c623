"""API: queue and agent reports by interval (volume, SL, ASA, AHT, abandonment, occupancy, pauses), CSV."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from appliance.web_services.kpi_report import GroupBy, Interval
from appliance.web_services.kpi_reports import Period, agents_csv, pauses_csv, queues_csv
from web.local.deps import ServicesDep, SupervisorUser
from web.local.models_ops import AgentIntervalPublic, QueueIntervalPublic
from web.local.services import Services

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

Since = Annotated[date | None, Query(description="first day (UTC), YYYY-MM-DD; default today")]
Until = Annotated[date | None, Query(description="last day (UTC), YYYY-MM-DD; default `since`")]
Every = Annotated[Interval, Query(description="one row per hour (at most 31 days) or per day (366)")]
By = Annotated[GroupBy, Query(description="one row per queue, per answering agent, or all queues together")]


def period(services: Services, since: date | None, until: date | None, interval: Interval) -> Period:
    """The asked period; today when no day is given."""
    first = since or until or services.clock.now().date()
    return Period(first, until or first, interval)


def _csv(body: str, name: str) -> Response:
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}, "description": "CSV, header first"}}


@router.get("/queues")
async def queue_report(_: SupervisorUser, services: ServicesDep, since: Since = None, until: Until = None,
                       interval: Every = Interval.HOUR, by: By = GroupBy.QUEUE) -> list[QueueIntervalPublic]:
    """Per interval and queue (or agent, or all): entered, answered, SL, ASA, AHT, abandonment."""
    rows = await services.kpis.queues(period(services, since, until, interval), by)
    return [QueueIntervalPublic(**asdict(r)) for r in rows]


@router.get("/queues.csv", response_class=Response, responses=CSV)
async def queue_report_csv(_: SupervisorUser, services: ServicesDep, since: Since = None, until: Until = None,
                           interval: Every = Interval.HOUR, by: By = GroupBy.QUEUE) -> Response:
    """The queue report as CSV."""
    rows = await services.kpis.queues(period(services, since, until, interval), by)
    return _csv(queues_csv(rows), f"queues-{by.value}-{interval.value}.csv")


@router.get("/agents")
async def agent_report(_: SupervisorUser, services: ServicesDep, since: Since = None, until: Until = None,
                       interval: Every = Interval.HOUR) -> list[AgentIntervalPublic]:
    """Per interval and agent: seconds per state, occupancy, pause seconds by reason."""
    rows = await services.kpis.agents(period(services, since, until, interval))
    return [AgentIntervalPublic(**asdict(r), occupancy=r.occupancy) for r in rows]


@router.get("/agents.csv", response_class=Response, responses=CSV)
async def agent_report_csv(_: SupervisorUser, services: ServicesDep, since: Since = None, until: Until = None,
                           interval: Every = Interval.HOUR) -> Response:
    """The agent report as CSV."""
    rows = await services.kpis.agents(period(services, since, until, interval))
    return _csv(agents_csv(rows), f"agents-{interval.value}.csv")


@router.get("/pauses.csv", response_class=Response, responses=CSV)
async def pause_report_csv(_: SupervisorUser, services: ServicesDep, since: Since = None, until: Until = None,
                           interval: Every = Interval.HOUR) -> Response:
    """Pause time by reason as CSV (one row per interval, agent and reason)."""
    rows = await services.kpis.agents(period(services, since, until, interval))
    return _csv(pauses_csv(rows), f"pauses-{interval.value}.csv")
