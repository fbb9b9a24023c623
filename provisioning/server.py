"""HTTP(S) config server: the URLs phones request by MAC, plus the admin device API."""

from __future__ import annotations

import base64
import binascii
import logging
import re

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from provisioning.model import (
    Device,
    DeviceNotFound,
    IllegalTransition,
    InvalidMac,
    ProvisioningError,
    State,
    UnknownExtension,
    Vendor,
)
from provisioning.profile import InvalidProfile
from provisioning.service import (
    FetchRequest,
    NotFound,
    ProvisioningService,
    RateLimited,
    Unauthorized,
)

_STATUS: dict[type[ProvisioningError], int] = {
    NotFound: 404,
    DeviceNotFound: 404,
    Unauthorized: 401,
    RateLimited: 429,
    InvalidMac: 422,
    InvalidProfile: 422,
    UnknownExtension: 422,
    IllegalTransition: 409,
}


def error_response(exc: ProvisioningError) -> JSONResponse:
    """Map a provisioning error to its HTTP status; the one place this is decided."""
    status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 400)
    headers: dict[str, str] = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="provisioning", charset="UTF-8"'
    if status == 429:
        headers["Retry-After"] = "60"
    detail = str(exc) if status not in (401, 404, 429) else ""  # no hints to scanners
    return JSONResponse({"error_id": exc.error_id, "details": detail}, status, headers)


def install_error_handler(app: FastAPI) -> None:
    """Register the provisioning error mapping on an app."""

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProvisioningError)
        return error_response(exc)

    app.add_exception_handler(ProvisioningError, handler)


_TOKEN_IN_PATH = re.compile(r"/t/[^/\s\"']+/")


class RedactEnrollmentTokens(logging.Filter):
    """Rewrites `/t/<token>/` to `/t/***/` so access logs never hold a live token."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops it."""
        message = record.getMessage()
        if "/t/" in message:
            record.msg = _TOKEN_IN_PATH.sub("/t/***/", message)
            record.args = None
        return True


def redact_tokens_in_logs(*logger_names: str) -> None:
    """Install the token redaction on access loggers (default: uvicorn's and httpx's)."""
    for name in logger_names or ("uvicorn.access", "uvicorn.error", "httpx"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactEnrollmentTokens) for f in logger.filters):
            logger.addFilter(RedactEnrollmentTokens())


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


def _fetch_request(request: Request, filename: str, token: str | None) -> FetchRequest:
    return FetchRequest(
        filename=filename,
        source_ip=request.client.host if request.client else "unknown",
        user_agent=request.headers.get("user-agent", "")[:200],
        secure=request.url.scheme == "https",
        basic=_basic(request),
        token=token,
    )


def _file_response(body: str, media_type: str) -> Response:
    return Response(body.encode("utf-8"), 200, {"Cache-Control": "no-store"},
                    media_type=media_type)


def config_router(service: ProvisioningService) -> APIRouter:
    """Routes phones fetch: /<file> with HTTP credentials, /t/<token>/<file> to enroll."""
    router = APIRouter()

    @router.get("/t/{token}/{filename}", include_in_schema=False)
    async def enroll(token: str, filename: str, request: Request) -> Response:
        """Serve a file to a phone holding a one-time enrollment token."""
        file = await service.fetch(_fetch_request(request, filename, token))
        return _file_response(file.body, file.media_type)

    @router.get("/{filename}", include_in_schema=False)
    async def config(filename: str, request: Request) -> Response:
        """Serve a file to a phone that authenticates with its HTTP credentials."""
        file = await service.fetch(_fetch_request(request, filename, None))
        return _file_response(file.body, file.media_type)

    return router


class DevicePublic(BaseModel):
    """A device as the admin sees it (no secrets)."""

    mac: str
    vendor: Vendor
    model: str
    state: State
    extension: str | None
    first_seen: float
    last_seen: float
    last_ip: str | None
    user_agent: str | None

    @classmethod
    def of(cls, device: Device) -> DevicePublic:
        """Project a device onto its public fields."""
        return cls(mac=device.mac, vendor=device.vendor, model=device.model, state=device.state,
                   extension=device.extension, first_seen=device.first_seen,
                   last_seen=device.last_seen, last_ip=device.last_ip,
                   user_agent=device.user_agent)


class DeviceAssign(BaseModel):
    """Assign a phone to an extension; vendor and model override the guess."""

    extension: str
    vendor: Vendor | None = None
    model: str | None = None


class AssignmentPublic(BaseModel):
    """The assignment result: the credentials are shown once and never again."""

    device: DevicePublic
    http_username: str | None
    http_password: str | None
    enrollment_url: str | None
    token_expires: float | None


def admin_router(service: ProvisioningService) -> APIRouter:
    """Admin API for devices; mount it behind the web app's admin authentication."""
    router = APIRouter()
    s = service

    @router.get("/devices")
    async def list_devices(state: State | None = None) -> list[DevicePublic]:
        """List devices, pending ones included."""
        return [DevicePublic.of(d) for d in await s.devices(state)]

    @router.post("/devices/{mac}/assign")
    async def assign(mac: str, body: DeviceAssign) -> AssignmentPublic:
        """Assign a phone to an extension."""
        a = await s.assign(mac, body.extension, vendor=body.vendor, model=body.model)
        return AssignmentPublic(device=DevicePublic.of(a.device), http_username=a.http_username,
                                http_password=a.http_password,
                                enrollment_url=a.enrollment_url, token_expires=a.token_expires)

    @router.post("/devices/{mac}/revoke")
    async def revoke(mac: str) -> DevicePublic:
        """Revoke a phone's credentials."""
        return DevicePublic.of(await s.unassign(mac))

    @router.delete("/devices/{mac}", status_code=204)
    async def remove(mac: str) -> Response:
        """Forget a phone."""
        await s.remove(mac)
        return Response(status_code=204)

    return router
