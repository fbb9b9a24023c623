"""The local web app: admin pages and the REST API under /api/v1, every asset served by the box."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from appliance.web_services.errors import Locked, Unauthenticated, WebError
from web.local.deps import translator
from web.local.render import render
from web.local.routers import (
    api_access,
    api_backup,
    api_desk_calls,
    api_directory,
    api_ivr,
    api_kpis,
    api_live,
    api_prompts,
    api_queues,
    api_recording_policy,
    api_reports,
    api_sms,
    api_supervision,
    api_system,
    api_trunks,
    api_users,
    api_voicemail,
    pages_access,
    pages_admin,
    pages_ivr,
    pages_live,
    pages_queues,
    pages_reports,
    pages_routing,
)
from web.local.services import Services

if TYPE_CHECKING:
    from appliance.app import Controller

STATIC = Path(__file__).parent / "static"
ROUTERS = (api_access, api_directory, api_users, api_reports, api_live, api_kpis, api_backup, api_system,
           api_desk_calls, pages_access, pages_admin, pages_reports, pages_live, api_trunks, api_ivr,
           api_voicemail, api_prompts, api_supervision, api_sms, api_queues, pages_routing, pages_ivr,
           pages_queues, api_recording_policy)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self';"
       " frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/metrics"


def _error_json(status: int, error_id: str, message: str, details: object, headers: dict[str, str] | None = None,
                ) -> JSONResponse:
    body = {"error_id": error_id, "message": message, "details": jsonable_encoder(details)}
    return JSONResponse(body, status_code=status, headers=headers)


async def _web_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebError)
    headers = {"retry-after": str(exc.details.get("retry_after_s", 60))} if isinstance(exc, Locked) else None
    if _is_api(request):
        return _error_json(exc.status, exc.error_id, exc.message, exc.details, headers)
    if isinstance(exc, Unauthenticated) and exc.error_id != "login_failed":
        services: Services = request.app.state.services
        target = "/login" if await services.users.has_admin() else "/setup"
        return RedirectResponse(target, status_code=303)
    tr = translator(request)
    return render(request, "error.html", tr, None, exc.status, error_id=exc.error_id, message=tr(exc.message),
                  details=exc.details)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
              for e in exc.errors()]
    if _is_api(request):
        return _error_json(422, "validation_failed", "the request does not match the schema", {"errors": errors})
    tr = translator(request)
    return render(request, "error.html", tr, None, 422, error_id="validation_failed",
                  message=tr("the request does not match the schema"), details={"errors": errors})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error_id = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
    if _is_api(request):
        return _error_json(exc.status_code, error_id, str(exc.detail), {}, dict(exc.headers or {}))
    tr = translator(request)
    return render(request, "error.html", tr, None, exc.status_code, error_id=error_id, message=tr(str(exc.detail)),
                  details={})


class SecurityHeaders(BaseHTTPMiddleware):
    """CSP (no inline script, no third-party origin), no sniffing, no framing, no caching of pages."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Add the headers to every answer."""
        response = await call_next(request)
        response.headers.setdefault("content-security-policy", CSP)
        response.headers.setdefault("x-content-type-options", "nosniff")
        response.headers.setdefault("referrer-policy", "same-origin")
        response.headers.setdefault("x-frame-options", "DENY")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("cache-control", "no-store")
        return response


def build_web_app(ctl: Controller) -> FastAPI:
    """The web app served on the LAN port."""
    app = FastAPI(title="Edge appliance", version="0.1.0", openapi_url="/api/v1/openapi.json",
                  docs_url=None, redoc_url=None)
    app.state.services = Services.from_controller(ctl)
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(WebError, _web_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for module in ROUTERS:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
