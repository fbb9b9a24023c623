"""Read pages: status, calls (CDRs), recordings, alarms and service events, audit log."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from appliance.web_services import audit
from appliance.web_services.desk_calls import DISPOSITIONS
from appliance.web_services.kpi_report import GroupBy, Interval
from appliance.web_services.reports import CdrFilter
from web.local.deps import AdminUser, AnyUser, ServicesDep, SupervisorUser, Tr
from web.local.render import render
from web.local.routers.api_kpis import By, Every, Since, Until, period
from web.local.status import system_status

router = APIRouter(include_in_schema=False)

Day = Annotated[date | None, Query()]
Text = Annotated[str, Query(max_length=64)]


@router.get("/status")
async def status_page(request: Request, auth: AnyUser, services: ServicesDep, tr: Tr) -> Response:
    """Workers and their load, sessions, alarms, disk; refreshed by a small script."""
    return render(request, "status.html", tr, auth, status=await system_status(services))


@router.get("/cdrs")
async def cdrs_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr, since: Day = None,
                    until: Day = None, number: Text = "", cause: Text = "") -> Response:
    """Calls filtered by date, number and cause, with a CSV export of the same filter."""
    flt = CdrFilter(since, until, number, cause)
    rows = await services.reports.cdrs(flt, limit=500)
    return render(request, "cdrs.html", tr, auth, rows=rows, flt=flt, causes=await services.reports.causes(),
                  query=request.url.query)


@router.get("/recordings")
async def recordings_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr,
                          since: Day = None, until: Day = None, number: Text = "", queue: Text = "",
                          agent: Text = "", min_s: Annotated[float | None, Query(ge=0, le=86_400)] = None,
                          max_s: Annotated[float | None, Query(ge=0, le=86_400)] = None,
                          disposition: Text = "") -> Response:
    """Recordings with in-browser playback and download (each access audited), searched by every filter."""
    recs = await services.reports.recordings(since, until, number, limit=200, queue=queue, agent=agent,
                                             min_s=min_s, max_s=max_s, disposition=disposition)
    return render(request, "recordings.html", tr, auth, recordings=recs, since=since, until=until, number=number,
                  queue=queue, agent=agent, min_s=min_s, max_s=max_s, disposition=disposition,
                  codes=DISPOSITIONS)


@router.get("/alarms")
async def alarms_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr) -> Response:
    """Alarms (open first) and the service events."""
    return render(request, "alarms.html", tr, auth, alarms=await services.reports.alarms(),
                  events=await services.reports.service_events())


@router.get("/audit")
async def audit_page(request: Request, auth: AdminUser, services: ServicesDep, tr: Tr,
                     action: Text = "") -> Response:
    """The audit log."""
    return render(request, "audit.html", tr, auth, entries=await audit.entries(services.ctl.db, 300, action),
                  action=action)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{round(v * 100)} %"


def _secs(v: float | None) -> str:
    return "–" if v is None else f"{round(v)} s"


@router.get("/reports")
async def reports_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr, since: Since = None,
                       until: Until = None, interval: Every = Interval.HOUR, by: By = GroupBy.QUEUE) -> Response:
    """Queue and agent reports by interval with charts (vendored Chart.js) and CSV export."""
    p = period(services, since, until, interval)
    queues = await services.kpis.queues(p, by)
    agents = await services.kpis.agents(p)
    base = f"since={p.since}&until={p.until}&interval={interval.value}"
    return render(request, "reports.html", tr, auth, period=p, by=by.value, queues=queues, agents=agents,
                  query=f"{base}&by={by.value}", query_agents=base, pct=_pct, secs=_secs,
                  fmt="%Y-%m-%d %H:00" if interval is Interval.HOUR else "%Y-%m-%d")
