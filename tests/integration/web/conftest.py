"""The web app served by real uvicorn over TLS with the box's generated certificate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from appliance.app import Controller, build_controller
from appliance.config import Settings
from appliance.web_services.certs import ensure_certificate
from tests.support.net import free_port
from web.local.app import build_web_app


@dataclass
class Served:
    """Where the app listens, its certificate, and the controller behind it."""

    url: str
    cert: Path
    ctl: Controller


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """The web app on a free loopback port over TLS, as `run_controller` should start it."""
    ctl = await build_controller(Settings(data_dir=tmp_path / "data", demo=False))
    cert, key = ensure_certificate(ctl.settings.data_dir)
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
        yield Served(f"https://127.0.0.1:{port}", cert, ctl)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        await ctl.db.close()
