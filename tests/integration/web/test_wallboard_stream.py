"""A queue event reaches an open wallboard stream within a second, over real uvicorn and TLS."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from appliance.storage.queues import QueueRow
from tests.integration.web.conftest import Served

ADMIN = ("admin", "admin password 1")
AGENT = ("dana", "agent password 1")


async def boards(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The `wallboard` events of a server-sent event stream, parsed."""
    event, data = "", []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            if event == "wallboard":
                yield json.loads("\n".join(data))
            event, data = "", []


async def test_an_agent_logging_in_reaches_the_open_stream_within_a_second(served: Served) -> None:
    trust = ssl.create_default_context(cafile=str(served.cert))
    async with httpx.AsyncClient(base_url=served.url, verify=trust, timeout=10) as sup, \
            httpx.AsyncClient(base_url=served.url, verify=trust, timeout=10) as desk:
        r = await sup.post("/api/v1/setup", json={"username": ADMIN[0], "password": ADMIN[1]})
        assert r.status_code == 201, r.text
        sup.headers["x-csrf-token"] = r.json()["csrf_token"]
        assert (await sup.post("/api/v1/extensions", json={"number": "102"})).status_code == 201
        r = await sup.post("/api/v1/users", json={"username": AGENT[0], "password": AGENT[1], "role": "agent"})
        assert r.status_code == 201, r.text
        queues = served.ctl.queues
        await queues.store.create_queue(QueueRow(number="700", name="Support queue", members=("102",)))
        queues.configure(await queues.store.load())
        r = await sup.put(f"/api/v1/users/{r.json()['id']}/extension", json={"extension": "102"})
        assert r.status_code == 200, r.text
        r = await desk.post("/api/v1/session", json={"username": AGENT[0], "password": AGENT[1]})
        desk.headers["x-csrf-token"] = r.json()["csrf_token"]
        try:
            async with sup.stream("GET", "/api/v1/wallboard/stream") as stream:
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                events = boards(stream)
                first = await asyncio.wait_for(anext(events), 5)
                assert first["agents"][0]["state"] == "logged_out"
                sent = time.monotonic()
                login = asyncio.create_task(desk.post("/api/v1/me/agent", json={"action": "login"}))

                async def until_available() -> dict[str, Any]:
                    async for board in events:
                        if board["agents"][0]["state"] == "available":
                            return board
                    raise AssertionError("stream ended")

                board = await asyncio.wait_for(until_available(), 1.0)
                latency = time.monotonic() - sent
                assert (await login).status_code == 200
                assert board["queues"][0]["agents_by_state"] == {"available": 1}
                print(f"agent login -> wallboard event: {latency * 1000:.0f} ms")
        finally:
            await queues.stop()
