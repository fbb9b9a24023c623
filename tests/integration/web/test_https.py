"""The web app under real uvicorn with the generated certificate: HTTPS only, cookies as promised."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from appliance.app import build_controller
from appliance.config import Settings
from appliance.web_services.certs import ensure_certificate
from tests.support.net import free_port
from web.local.app import build_web_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """The web app on a free loopback port over TLS, as `run_controller` should start it."""
    ctl = await build_controller(Settings(data_dir=tmp_path, demo=False))
    cert, key = ensure_certificate(tmp_path)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        build_web_app(ctl), host="127.0.0.1", port=port, ssl_certfile=str(cert), ssl_keyfile=str(key),
        log_level="warning", lifespan="off",
    ))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):  # uvicorn exposes no started event; bounded wait on its flag
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield f"https://127.0.0.1:{port}", cert
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        await ctl.db.close()


async def test_https_with_the_generated_certificate(served: tuple[str, Path]) -> None:
    url, cert = served
    trust = ssl.create_default_context(cafile=str(cert))
    async with httpx.AsyncClient(base_url=url, verify=trust) as c:
        r = await c.post("/api/v1/setup", json={"username": "admin", "password": "admin password 1"})
        assert r.status_code == 201
        cookie = r.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        c.headers["x-csrf-token"] = r.json()["csrf_token"]
        r = await c.post("/api/v1/extensions", json={"number": "150", "display_name": "Lobby"})
        assert r.status_code == 201 and r.json()["sip_password"]
        assert (await c.get("/static/app.css")).status_code == 200
    # without trusting the box's certificate the client refuses (it is self-signed)
    async with httpx.AsyncClient(base_url=url) as untrusting:
        with pytest.raises(httpx.ConnectError):
            await untrusting.get("/healthz")
    # plain HTTP on the TLS port gets no page
    plain = url.replace("https://", "http://")
    async with httpx.AsyncClient(base_url=plain) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            await c.get("/healthz")
