"""`appliance admin create`: set or recover an admin password from the console."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from appliance.app import build_controller
from appliance.config import Settings
from appliance.domain.clock import ManualClock
from appliance.web_services.cli_admin import admin_create
from appliance.web_services.errors import Invalid
from web.local.app import build_web_app


async def can_log_in(data_dir: Path, username: str, password: str) -> bool:
    ctl = await build_controller(Settings(data_dir=data_dir, demo=False), ManualClock())
    try:
        transport = httpx.ASGITransport(app=build_web_app(ctl), client=("192.0.2.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="https://box") as c:
            r = await c.post("/api/v1/session", json={"username": username, "password": password})
            return r.status_code == 200
    finally:
        await ctl.db.close()


async def test_create_with_a_generated_password_then_reset(tmp_path: Path) -> None:
    line = admin_create(tmp_path, "boss", None)
    m = re.fullmatch(r"admin boss created; password (\S+) \(shown once\)", line)
    assert m
    assert await can_log_in(tmp_path, "boss", m.group(1))
    assert admin_create(tmp_path, "boss", "a brand new password") == "admin boss reset"
    assert not await can_log_in(tmp_path, "boss", m.group(1))
    assert await can_log_in(tmp_path, "boss", "a brand new password")


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(Invalid):
        admin_create(tmp_path, "boss", "short")
    with pytest.raises(Invalid):
        admin_create(tmp_path, "bad name", "long enough password")
    assert not (tmp_path / "appliance.db").exists()
