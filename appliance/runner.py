"""Wire the supervisor for `appliance run`: which children, in which order, ready when."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from pathlib import Path

import httpx

from appliance.app import edge_config
from appliance.config import Settings
from appliance.domain.clock import SystemClock, iso
from appliance.sip import kamailio
from appliance.storage.db import migrate_sync, open_db
from appliance.supervisor import ChildSpec, Supervisor, python_argv

log = logging.getLogger(__name__)


async def _wait_http(url: str, timeout: float = 30.0, verify: str | bool = True) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(verify=verify) as client:
        while time.monotonic() < deadline:
            try:
                r = await client.get(url, timeout=0.5)
                if r.status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} not up within {timeout} s")


async def _wait_socket(settings: Settings, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if settings.rpc_socket.exists():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("controller socket did not appear")


def child_specs(settings: Settings, config_path: str) -> list[ChildSpec]:
    """Controller, Kamailio, the media workers, and the firmware bridge when a modem is configured."""
    dd = str(settings.data_dir)

    async def controller_ready() -> None:
        await _wait_socket(settings)
        # The web port speaks HTTPS with the box's self-signed certificate; this loopback
        # readiness probe only asks whether it answers.
        await _wait_http(f"https://127.0.0.1:{settings.web_port}/healthz", verify=False)

    async def kamailio_ready() -> None:
        await kamailio.wait_ready("127.0.0.1" if settings.sip_ip == "0.0.0.0" else settings.sip_ip, settings.sip_port)

    specs = [
        ChildSpec("controller", python_argv("controller", "--data-dir", dd), controller_ready),
        ChildSpec(
            "kamailio", kamailio.command(kamailio.Path(config_path), settings.run_dir), kamailio_ready
        ),
    ]
    for i in range(1, settings.workers + 1):
        specs.append(
            ChildSpec(f"worker-w{i}", python_argv("worker", "--name", f"w{i}", "--data-dir", dd), group="workers")
        )
    modem = settings.extra.get("modem") or {}
    if modem.get("simulator"):  # demo: the simulator is the modem (appliance/demo_modem.py)
        port = Path(str(modem["port"]))

        async def simulator_ready() -> None:
            for _ in range(200):
                if port.exists():
                    return
                await asyncio.sleep(0.05)
            raise TimeoutError(f"the modem simulator made no {port}")

        specs.append(ChildSpec("modem-sim", [sys.executable, "-m", "firmware_bridge.simulator", "--profile",
                                             str(modem.get("profile", "quectel")), "--dir", str(port.parent)],
                               simulator_ready))
    if modem.get("port"):
        specs.append(ChildSpec("firmware-bridge", python_argv("firmware-bridge", "--data-dir", dd)))
    return specs


async def run_all(settings: Settings) -> int:
    """Prepare the data directory, render Kamailio's config, supervise all children."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    migrate_sync(settings.db_path)
    cfg_path = kamailio.write_config(edge_config(settings))
    kamailio.check_config(cfg_path)
    db = await open_db(settings.db_path, migrate=False)
    clock = SystemClock()

    async def record(service: str, event: str, detail: str) -> None:
        await db.execute(
            "INSERT INTO service_events(at, service, event, detail) VALUES (?, ?, ?, ?)",
            (iso(clock.now()), service, event, detail),
        )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sup = Supervisor(child_specs(settings, str(cfg_path)), record)
    try:
        await sup.run(stop)
    finally:
        await db.close()
    return 0
