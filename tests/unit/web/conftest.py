"""A real controller on a tmp data dir with the web app in front of it, and logged-in clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from appliance.app import Controller, build_controller
from appliance.config import Settings
from appliance.domain.clock import ManualClock
from appliance.storage.queues import QueueRow
from web.local.app import build_web_app

ADMIN_PASSWORD = "admin password 1"
PASSWORDS = {"admin": ADMIN_PASSWORD, "sup": "supervisor pw 1", "agent": "agent password 1"}


@dataclass
class Box:
    """The controller, its web app and helpers to get clients in each role."""

    ctl: Controller
    app: Any
    clock: ManualClock
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, host: str = "192.0.2.10") -> httpx.AsyncClient:
        """A browser-like client (HTTPS so Secure cookies flow) from a LAN address."""
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app, client=(host, 50000)),
                              base_url="https://box.test")
        self.clients.append(c)
        return c

    async def login(self, username: str, password: str | None = None, host: str = "192.0.2.10",
                    ) -> httpx.AsyncClient:
        """A client logged in through the API, its CSRF header set (as the pages' scripts do)."""
        c = self.client(host)
        r = await c.post("/api/v1/session", json={"username": username, "password": password or PASSWORDS[username]})
        assert r.status_code == 200, r.text
        c.headers["x-csrf-token"] = r.json()["csrf_token"]
        return c

    async def rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the database as a user would check it."""
        async with self.ctl.db.execute(sql, args) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every configuration table, to prove a refusal changed nothing."""
        tables = ["extensions", "ring_groups", "ring_group_members", "web_users"]
        return {t: await self.rows(f"SELECT * FROM {t} ORDER BY 1") for t in tables}


async def _make_box(tmp_path: Path) -> Box:
    clock = ManualClock()
    ctl = await build_controller(Settings(data_dir=tmp_path, demo=False), clock)
    return Box(ctl, build_web_app(ctl), clock)


@pytest.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[Box]:
    """A box on its first start: no admin yet."""
    box = await _make_box(tmp_path)
    try:
        yield box
    finally:
        for c in box.clients:
            await c.aclose()
        await box.ctl.db.close()


@pytest.fixture
async def box(fresh: Box) -> Box:
    """A box with an admin, a supervisor, an agent, extensions 101-103 and ring group 600."""
    c = fresh.client()
    r = await c.post("/api/v1/setup", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 201, r.text
    c.headers["x-csrf-token"] = r.json()["csrf_token"]
    for name, role in (("sup", "supervisor"), ("agent", "agent")):
        r = await c.post("/api/v1/users", json={"username": name, "password": PASSWORDS[name], "role": role})
        assert r.status_code == 201, r.text
    for n in ("101", "102", "103"):
        assert (await c.post("/api/v1/extensions", json={"number": n, "display_name": f"Ext {n}"})).status_code == 201
    r = await c.post("/api/v1/ring-groups", json={"number": "600", "name": "Support", "members": ["102", "103"]})
    assert r.status_code == 201, r.text
    return fresh


QUEUE = QueueRow(number="700", name="Support queue", members=("102", "103"), wrap_up_s=5.0)


async def user_id(box: Box, username: str) -> int:
    (uid,), = await box.rows("SELECT id FROM web_users WHERE username = ?", (username,))
    return int(uid)


async def state_of_the_acd(box: Box) -> dict[str, Any]:
    """What must not move when a request is refused: links, the queue event log, the agents."""
    return {
        **await box.snapshot(),
        "links": await box.rows("SELECT * FROM web_user_extensions ORDER BY 1"),
        "queue_events": await box.rows("SELECT * FROM queue_events ORDER BY 1"),
        "agents": box.ctl.queues.agent_states(),
    }


@pytest.fixture
async def acd(box: Box) -> AsyncIterator[Box]:
    """The box with queue 700 (members 102, 103) loaded and the user `agent` linked to 102."""
    await box.ctl.queues.store.create_queue(QUEUE)
    box.ctl.queues.configure(await box.ctl.queues.store.load())
    admin = await box.login("admin")
    r = await admin.put(f"/api/v1/users/{await user_id(box, 'agent')}/extension", json={"extension": "102"})
    assert r.status_code == 200 and r.json()["extension"] == "102", r.text
    try:
        yield box
    finally:
        await box.ctl.queues.stop()
