"""`appliance firmware-bridge`: own the modem's serial port, keep it healthy, publish status.

The status is written atomically to `<data>/run/modem.json` on every change (state,
IMEI, signal, registration, operator, SIM, call, last error, open alarms) for the
controller and the web UI to read; every modem event is logged. With no modem
configured the bridge idles (a box without a modem is normal) instead of restart-looping.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from dataclasses import asdict, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from firmware_bridge.modem import Modem, ModemEvent
from firmware_bridge.profiles import get_profile

log = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    """Dataclasses and enums as JSON-ready values."""
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def write_status(path: Path, modem: Modem) -> None:
    """Write the modem's status document atomically."""
    doc = _plain(modem.status())
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, sort_keys=True, default=str), encoding="utf-8")
    tmp.replace(path)


async def run_bridge(port: str | None, profile: str, status_path: Path) -> int:
    """Run until SIGINT/SIGTERM; return the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    status_path.parent.mkdir(parents=True, exist_ok=True)
    if not port:
        log.info("no modem configured (settings extra.modem.port); the bridge idles")
        status_path.write_text(json.dumps({"state": "not_configured"}), encoding="utf-8")
        await stop.wait()
        return 0
    modem = Modem(port, get_profile(profile))

    def on_event(event: ModemEvent) -> None:
        log.info("modem event: %s", event)
        write_status(status_path, modem)

    modem.add_listener(on_event)
    await modem.start()
    write_status(status_path, modem)
    try:
        await stop.wait()
    finally:
        await modem.stop()
        write_status(status_path, modem)
    return 0
