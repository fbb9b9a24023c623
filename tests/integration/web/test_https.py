"""The web app under real uvicorn with the generated certificate: HTTPS only, cookies as promised."""

from __future__ import annotations

import ssl

import httpx
import pytest

from tests.integration.web.conftest import Served

pytestmark = pytest.mark.integration


async def test_https_with_the_generated_certificate(served: Served) -> None:
    url, cert = served.url, served.cert
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
