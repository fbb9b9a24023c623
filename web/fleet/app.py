"""Fleet dashboard: server-rendered FastAPI + Jinja2 (no CDN, no client-side framework)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from web.fleet.service import FleetService

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _ago(ts: float | None) -> str:
    if ts is None:
        return "never"
    secs = max(0, int(time.time() - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if secs >= size:
            return f"{secs // size} {unit} ago"
    return f"{secs} s ago"


def _when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def sparkline(values: list[float], width: int = 300, height: int = 60) -> str:
    """Return SVG polyline points for a small server-rendered chart."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    step = width / max(1, len(values) - 1)
    return " ".join(f"{i * step:.1f},{height - (v - lo) / span * height:.1f}"
                    for i, v in enumerate(values))


TEMPLATES.env.filters["ago"] = _ago
TEMPLATES.env.filters["when"] = _when


def get_service(request: Request) -> FleetService:
    """The fleet service the app was built around."""
    service: FleetService = request.app.state.fleet
    return service


Service = Annotated[FleetService, Depends(get_service)]


def create_app(service: FleetService) -> FastAPI:
    """Build the dashboard around a running fleet service."""
    app = FastAPI(title="Fleet dashboard")
    app.state.fleet = service

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request, svc: Service) -> Response:
        boxes = await svc.store.boxes()
        return TEMPLATES.TemplateResponse(request, "index.html", {"boxes": boxes})

    @app.get("/api/boxes")
    async def api_boxes(svc: Service) -> JSONResponse:
        return JSONResponse([b.__dict__ for b in await svc.store.boxes()])

    @app.get("/box/{node}", response_class=HTMLResponse)
    async def box(request: Request, node: str, svc: Service, error: str = "") -> Response:
        row = await svc.store.box(node)
        if row is None:
            raise HTTPException(404, f"unknown box {node!r}")
        metrics = await svc.store.recent(node, "metrics", 60)
        charts = {}
        for key in ("active_calls", "outbox_backlog", "queue_sl", "modem_signal", "cpu"):
            series = [float(m["data"][key]) for m in metrics
                      if isinstance(m["data"].get(key), int | float)]
            if series:
                charts[key] = {"points": sparkline(series), "last": series[-1],
                               "max": max(series)}
        ctx: dict[str, Any] = {
            "box": row, "charts": charts, "config": await svc.store.config(node),
            "alarms": await svc.store.recent(node, "alarm", 20),
            "events": [e for s in ("cdr", "queue", "agent")
                       for e in await svc.store.recent(node, s, 10)],
            "error": error,
        }
        return TEMPLATES.TemplateResponse(request, "box.html", ctx)

    @app.post("/box/{node}/config")
    async def push_config(request: Request, node: str, svc: Service) -> Response:
        # urlencoded form parsed by hand: avoids the python-multipart dependency.
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        config = (form.get("config") or [""])[0]
        try:
            doc = json.loads(config)
            if not isinstance(doc, dict):
                raise ValueError("configuration must be a JSON object")
        except ValueError as exc:
            page = await box(request, node, svc, error=f"not pushed: {exc}")
            page.status_code = 400
            return page
        if await svc.store.box(node) is None:
            raise HTTPException(404, f"unknown box {node!r}")
        await svc.push_desired(node, doc)
        return RedirectResponse(f"/box/{node}", status_code=303)

    return app
