"""API: status, CDRs (and CSV), recordings (audited audio), alarms, service events, audit log, TLS."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, StreamingResponse

from appliance.web_services import audit, certs
from appliance.web_services.reports import MAX_PAGE, CdrFilter
from web.local.deps import AdminUser, RowId, ServicesDep, StatusReader, SupervisorUser
from web.local.models import (
    AlarmPublic,
    AuditPublic,
    CdrPublic,
    RecordingPublic,
    ServiceEventPublic,
    StatusPublic,
    TlsPublic,
    TlsUpdate,
)
from web.local.status import system_status

router = APIRouter(prefix="/api/v1", tags=["reports"])

Since = Annotated[date | None, Query(description="first day (UTC), YYYY-MM-DD")]
Until = Annotated[date | None, Query(description="last day (UTC), YYYY-MM-DD")]
Number = Annotated[str, Query(max_length=32, description="caller, callee or answering extension")]
Cause = Annotated[str, Query(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]


@router.get("/status")
async def status(_: StatusReader, services: ServicesDep) -> StatusPublic:
    """Workers with their reserved legs, live sessions, open alarms, load, disk."""
    return await system_status(services)


@router.get("/cdrs")
async def list_cdrs(_: SupervisorUser, services: ServicesDep, since: Since = None, until: Until = None,
                    number: Number = "", cause: Cause = "", limit: Limit = 100, offset: Offset = 0) -> list[CdrPublic]:
    """Call attempts, newest first, filtered by date range, number and cause."""
    rows = await services.reports.cdrs(CdrFilter(since, until, number, cause), limit, offset)
    return [CdrPublic(**r) for r in rows]


@router.get("/cdrs.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "CSV, header first"}})
async def export_cdrs(_: SupervisorUser, services: ServicesDep, since: Since = None, until: Until = None,
                      number: Number = "", cause: Cause = "") -> StreamingResponse:
    """Every matching call attempt as CSV (oldest first)."""
    flt = CdrFilter(since, until, number, cause)
    flt.where()  # refuse a bad range before the 200 goes out
    return StreamingResponse(services.reports.cdrs_csv(flt), media_type="text/csv; charset=utf-8",
                             headers={"content-disposition": 'attachment; filename="cdrs.csv"'})


Seconds = Annotated[float | None, Query(ge=0, le=86_400)]
Code = Annotated[str, Query(max_length=32, description="a disposition code given in wrap-up")]
QueueNo = Annotated[str, Query(max_length=32, description="queue number")]


@router.get("/recordings")
async def list_recordings(_: SupervisorUser, services: ServicesDep, since: Since = None, until: Until = None,
                          number: Number = "", queue: QueueNo = "", agent: Number = "", min_s: Seconds = None,
                          max_s: Seconds = None, disposition: Code = "", limit: Limit = 100) -> list[RecordingPublic]:
    """Indexed recordings, newest first: by date range, number, queue, agent, duration and disposition."""
    recs = await services.reports.recordings(since, until, number, limit, queue=queue, agent=agent, min_s=min_s,
                                             max_s=max_s, disposition=disposition)
    return [RecordingPublic(**asdict(r)) for r in recs]


def _first_range(request: Request) -> bool:
    rng = request.headers.get("range", "")
    return not rng or rng.replace(" ", "").startswith("bytes=0-")


@router.get("/recordings/{recording_id}/audio", response_class=FileResponse,
            responses={200: {"content": {"audio/wav": {}}}})
async def play_recording(recording_id: RowId, auth: SupervisorUser, request: Request,
                         services: ServicesDep) -> FileResponse:
    """The WAV for in-browser playback (each playback audited)."""
    rec, path = await services.reports.recording_file(auth.actor, recording_id, "play", _first_range(request))
    return FileResponse(path, media_type="audio/wav", filename=f"recording-{rec.id}.wav",
                        content_disposition_type="inline")


@router.get("/recordings/{recording_id}/download", response_class=FileResponse,
            responses={200: {"content": {"audio/wav": {}}}})
async def download_recording(recording_id: RowId, auth: SupervisorUser, request: Request,
                             services: ServicesDep) -> FileResponse:
    """The WAV as a download (audited)."""
    rec, path = await services.reports.recording_file(auth.actor, recording_id, "download", _first_range(request))
    return FileResponse(path, media_type="audio/wav", filename=f"recording-{rec.id}-{rec.call_id[:40]}.wav")


@router.get("/alarms")
async def list_alarms(_: SupervisorUser, services: ServicesDep) -> list[AlarmPublic]:
    """Open alarms first, then recent cleared ones."""
    return [AlarmPublic(**a) for a in await services.reports.alarms()]


@router.get("/service-events")
async def list_service_events(_: SupervisorUser, services: ServicesDep) -> list[ServiceEventPublic]:
    """The supervisor's newest events."""
    return [ServiceEventPublic(**e) for e in await services.reports.service_events()]


@router.get("/audit")
async def list_audit(_: AdminUser, services: ServicesDep,
                     action: Annotated[str, Query(max_length=64)] = "", limit: Limit = 200) -> list[AuditPublic]:
    """The audit log, newest first; `action` filters by prefix (e.g. login., recording.)."""
    rows = await audit.entries(services.ctl.db, limit, action)
    return [AuditPublic(**asdict(e)) for e in rows]


@router.get("/tls")
async def get_tls(_: AdminUser, services: ServicesDep) -> TlsPublic:
    """The HTTPS certificate in use (self-signed until one is uploaded)."""
    cert, _key = await asyncio.to_thread(certs.ensure_certificate, services.data_dir)
    return TlsPublic(**certs.describe(cert))


@router.put("/tls")
async def put_tls(body: TlsUpdate, auth: AdminUser, services: ServicesDep) -> TlsPublic:
    """Install an uploaded certificate and key (checked first; served from the next start)."""
    cert, _key = await services.system.install_certificate(auth.actor, body.certificate.encode(), body.key.encode())
    return TlsPublic(**certs.describe(cert))
