"""Web UI under load: page and API latency at 50 requests/s, and wallboard event-to-browser time.

    .venv/bin/python -m bench.web_bench --seconds 10 --rate 50 --toggles 20

A real `appliance run` (controller + Kamailio + one worker, demo data) on loopback, HTTPS
with its own certificate. An admin is created through the first-run API; then each path in
PATHS gets an open-loop load of --rate requests/s for --seconds (requests start on schedule
whether or not earlier ones finished, and latency counts from the scheduled start, so a
stalled server cannot hide its queueing). Then an agent (user mapped to extension 102, a
member of queue 700) logs in and out --toggles times while a supervisor's SSE wallboard
stream is open; the latency is from the agent's request to the wallboard event showing the
new state, as an HTTP client reads it (a browser adds its own parse and paint).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from appliance.web_services.certs import cert_paths
from tests.support.appliance import make_appliance

PATHS = (
    "/wallboard",  # supervisor page (server-rendered)
    "/extensions",  # admin page
    "/api/v1/wallboard",  # the wallboard's JSON
    "/api/v1/cdrs",
    "/api/v1/reports/queues",  # a report (queue KPIs by interval)
    "/api/v1/system",
)
ADMIN = ("admin", "bench admin password 1")
AGENT = ("dana", "bench agent password 1")


def _pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def _load(client: httpx.AsyncClient, path: str, rate: float, seconds: float) -> dict[str, float]:
    """Open-loop load on one path; latency from each request's scheduled start (ms)."""
    n = int(rate * seconds)
    t0 = time.monotonic() + 0.2
    latencies: list[float] = []
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        at = t0 + i / rate
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        try:
            r = await client.get(path)
            if r.status_code != 200:
                errors += 1
        except httpx.HTTPError:
            errors += 1
        latencies.append((time.monotonic() - at) * 1000)

    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), seconds + 60)
    return {"n": n, "errors": errors, "p50_ms": statistics.median(latencies), "p99_ms": _pct(latencies, 0.99)}


async def _boards(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
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


async def _wallboard_latency(sup: httpx.AsyncClient, desk: httpx.AsyncClient, toggles: int) -> list[float]:
    """Agent login/logout -> the wallboard event showing it (ms)."""
    out: list[float] = []
    async with sup.stream("GET", "/api/v1/wallboard/stream") as stream:
        boards = _boards(stream)
        await asyncio.wait_for(anext(boards), 5)
        for i in range(toggles):
            action, want = ("login", "available") if i % 2 == 0 else ("logout", "logged_out")
            sent = time.monotonic()
            request = asyncio.create_task(desk.post("/api/v1/me/agent", json={"action": action}))

            async def until(state: str) -> None:
                async for board in boards:
                    if any(a.get("agent") == "102" and a["state"] == state
                           for a in board["agents"]):
                        return

            await asyncio.wait_for(until(want), 5)
            out.append((time.monotonic() - sent) * 1000)
            assert (await request).status_code == 200
            await asyncio.sleep(0.2)
    return out


async def _bench(url: str, cert: Path, seconds: float, rate: float, toggles: int) -> None:
    trust = ssl.create_default_context(cafile=str(cert))
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, verify=trust, timeout=30, limits=limits) as sup, \
            httpx.AsyncClient(base_url=url, verify=trust, timeout=30) as desk:
        r = await sup.post("/api/v1/setup", json={"username": ADMIN[0], "password": ADMIN[1]})
        r.raise_for_status()
        sup.headers["x-csrf-token"] = r.json()["csrf_token"]
        r = await sup.post("/api/v1/users", json={"username": AGENT[0], "password": AGENT[1], "role": "agent"})
        r.raise_for_status()
        (await sup.put(f"/api/v1/users/{r.json()['id']}/extension", json={"extension": "102"})).raise_for_status()
        r = await desk.post("/api/v1/session", json={"username": AGENT[0], "password": AGENT[1]})
        r.raise_for_status()
        desk.headers["x-csrf-token"] = r.json()["csrf_token"]
        print(f"{'path':<22} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8}")
        for path in PATHS:
            f = await _load(sup, path, rate, seconds)
            print(f"{path:<22} {f['n']:>8.0f} {f['errors']:>6.0f} {f['p50_ms']:>8.1f} {f['p99_ms']:>8.1f}")
        lat = await _wallboard_latency(sup, desk, toggles)
        print(f"wallboard event-to-client: n={len(lat)} p50 {statistics.median(lat):.0f} ms, "
              f"max {max(lat):.0f} ms")


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--toggles", type=int, default=20)
    args = parser.parse_args()
    seconds = min(max(args.seconds, 1.0), 120.0)
    rate = min(max(args.rate, 1.0), 500.0)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        box = make_appliance(data, workers=1)
        box.start()
        try:
            asyncio.run(_bench(f"https://127.0.0.1:{box.web_port}", cert_paths(data)[0],
                               seconds, rate, max(2, min(args.toggles, 200))))
        finally:
            box.stop()


if __name__ == "__main__":
    main()
