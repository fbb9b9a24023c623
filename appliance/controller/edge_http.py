"""The loopback HTTP API Kamailio calls (http_client). Thin: validate, call EdgeService."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse, Response

from appliance.controller.edge import EdgeService


def build_edge_app(service: EdgeService, token: str) -> FastAPI:
    """The internal app; every path carries the secret token rendered into Kamailio's config."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    router = APIRouter(prefix="/internal/{token}")

    def check(tok: str) -> None:
        if not hmac.compare_digest(tok, token):
            raise HTTPException(status_code=403, detail="forbidden")

    @router.get("/ha1")
    async def ha1(token: str, user: Annotated[str, Query(max_length=64)]) -> Response:
        check(token)
        value = await service.ha1(user)
        if value is None:
            return JSONResponse({"error": "unknown"}, status_code=404)
        return JSONResponse({"ha1": value})

    @router.get("/route")
    async def route(
        token: str,
        callid: Annotated[str, Query(max_length=256)],
        to: Annotated[str, Query(alias="to", max_length=64)] = "",
        from_: Annotated[str, Query(alias="from", max_length=64)] = "",
        src: Annotated[str, Query(max_length=16)] = "phone",
        addr: Annotated[str, Query(max_length=64)] = "",
        au: Annotated[str, Query(max_length=64)] = "",
    ) -> Response:
        check(token)
        answer = await service.route(callid, from_, to, src, addr, au)
        return JSONResponse(answer.as_json())

    @router.get("/trunk_auth")
    async def trunk_auth(token: str, dst: Annotated[str, Query(max_length=300)]) -> Response:
        check(token)
        creds = await service.trunk_credentials(dst)
        if creds is None:
            return JSONResponse({"error": "unknown"}, status_code=404)
        return JSONResponse({"username": creds[0], "password": creds[1]})

    @router.get("/peer")
    async def peer(token: str, addr: Annotated[str, Query(max_length=64)]) -> Response:
        check(token)
        trunk = service.trunk_at(addr)
        if trunk is None:
            return JSONResponse({"error": "unknown"}, status_code=404)
        return JSONResponse({"trunk": trunk})

    @router.get("/report")
    async def report(
        token: str,
        event: Annotated[str, Query(pattern="^(answer|final|bye)$")],
        callid: Annotated[str, Query(max_length=256)],
        code: Annotated[int, Query(ge=0, le=699)] = 0,
    ) -> Response:
        check(token)
        await service.report(event, callid, code)
        return JSONResponse({"ok": True})

    app.include_router(router)
    return app
