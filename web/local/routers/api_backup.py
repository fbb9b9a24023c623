"""API and page: configuration backup download and restore upload (dry run first), admin only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from appliance.web_services.backup import MAX_ARCHIVE_BYTES
from appliance.web_services.errors import Invalid
from web.local.deps import AdminUser, ServicesDep, Tr
from web.local.models_ops import RestoreReportPublic
from web.local.render import render

router = APIRouter(tags=["backup"])

ARCHIVE: dict[int | str, dict[str, Any]] = {200: {"content": {"application/gzip": {}},
                                                  "description": "the checksummed configuration archive"}}


@router.get("/api/v1/backup", response_class=Response, responses=ARCHIVE)
async def download_backup(auth: AdminUser, services: ServicesDep) -> Response:
    """Every configuration table in one checksummed archive (audited)."""
    blob = await services.backup.backup(auth.actor)
    day = services.clock.now().strftime("%Y%m%d-%H%M%S")
    return Response(blob, media_type="application/gzip",
                    headers={"content-disposition": f'attachment; filename="appliance-config-{day}.backup.gz"'})


@router.post("/api/v1/backup/restore", openapi_extra={
    "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {
        "type": "string", "format": "binary"}}}}})
async def restore_backup(request: Request, auth: AdminUser, services: ServicesDep,
                         dry_run: Annotated[bool, Query(description="report what would change, change nothing")] = True,
                         ) -> RestoreReportPublic:
    """Check an uploaded archive and report what changes per table; with dry_run=false apply it, all or nothing."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ARCHIVE_BYTES:
        raise Invalid("backup_too_large", f"a backup is at most {MAX_ARCHIVE_BYTES} bytes")
    blob = b""
    async for chunk in request.stream():
        blob += chunk
        if len(blob) > MAX_ARCHIVE_BYTES:
            raise Invalid("backup_too_large", f"a backup is at most {MAX_ARCHIVE_BYTES} bytes")
    if not blob:
        raise Invalid("backup_missing", "send the backup file as the request body")
    report = await services.backup.restore(auth.actor, blob, dry_run)
    return RestoreReportPublic(**asdict(report))


@router.get("/settings/backup", include_in_schema=False)
async def backup_page(request: Request, auth: AdminUser, tr: Tr) -> Response:
    """Download a backup; upload one, see the dry-run report, then restore."""
    return render(request, "backup.html", tr, auth)
