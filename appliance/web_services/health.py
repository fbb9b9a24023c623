"""System health for the status page: SIP edge, media workers, modem, cloud link, disk, CPU, memory, temperature.

Everything is derived on each read from the live controller, the files the other processes
write (`run/modem.json`), `/proc` and `/sys`; nothing is stored. Readers of files and of
`/proc` are small pure functions over text so tests feed them text.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from logging import Formatter, Handler, LogRecord
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.sip.kamailio import options_ping

if TYPE_CHECKING:
    from appliance.app import Controller

THERMAL = Path("/sys/class/thermal")
MEMINFO = Path("/proc/meminfo")


def read_temperature(thermal: Path = THERMAL) -> float | None:
    """The hottest thermal zone in °C, or None when the machine exposes none (a VM, a container)."""
    temps: list[float] = []
    for zone in sorted(thermal.glob("thermal_zone*")):
        try:
            temps.append(int((zone / "temp").read_text().strip()) / 1000)
        except (OSError, ValueError):
            continue
    return max(temps) if temps else None


def parse_meminfo(text: str) -> tuple[int, int] | None:
    """(total, available) bytes from /proc/meminfo text; None if either is missing."""
    kb: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            kb[name.strip()] = int(parts[0])
    if "MemTotal" not in kb or "MemAvailable" not in kb:
        return None
    return kb["MemTotal"] * 1024, kb["MemAvailable"] * 1024


def read_modem(path: Path, now: datetime) -> dict[str, Any]:
    """The firmware bridge's last status document, with its age; `state` says why when there is none."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        age = now.timestamp() - path.stat().st_mtime
    except FileNotFoundError:
        return {"state": "not_available", "detail": "the firmware bridge has not written run/modem.json"}
    except (OSError, ValueError) as exc:
        return {"state": "unreadable", "detail": f"run/modem.json: {exc}"}
    if not isinstance(doc, dict):
        return {"state": "unreadable", "detail": "run/modem.json is not an object"}
    signal = doc.get("signal") if isinstance(doc.get("signal"), dict) else {}
    return {
        "state": str(doc.get("state", "unknown")), "operator": doc.get("operator"),
        "registration": doc.get("registration"), "signal_dbm": signal.get("rssi_dbm") if signal else None,
        "sim": doc.get("sim"), "imei": doc.get("imei"), "last_error": doc.get("last_error"),
        "alarms": doc.get("alarms") or {}, "age_s": round(max(0.0, age), 1),
    }


@dataclass
class LogLine:
    """One line of the appliance log as the live view shows it."""

    seq: int
    at: str
    level: str
    logger: str
    message: str


class LogBuffer(Handler):
    """The controller's newest log lines in memory (bounded), for the admin's live log view."""

    def __init__(self, capacity: int = 1000) -> None:
        super().__init__()
        self.lines: deque[LogLine] = deque(maxlen=capacity)
        self.seq = 0
        self.setFormatter(Formatter("%(message)s"))

    def emit(self, record: LogRecord) -> None:
        """Keep one record (never raises: a logging failure must not break a call path)."""
        try:
            message = self.format(record)
            self.seq += 1
            at = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            self.lines.append(LogLine(self.seq, at, record.levelname, record.name, message[:2000]))
        except Exception:
            self.handleError(record)

    def since(self, seq: int, limit: int = 200) -> list[LogLine]:
        """Lines after `seq`, at most the newest `limit`."""
        newer = [ln for ln in self.lines if ln.seq > seq]
        return newer[-limit:]

    async def follow(self, backlog: int, max_lines: int, max_s: float, poll_s: float = 0.1,
                     ) -> AsyncIterator[list[LogLine]]:
        """The last `backlog` lines, then new ones as they come; ends after `max_lines` or `max_s` (bounded)."""
        first = self.since(0, backlog)
        last = first[-1].seq if first else self.seq
        sent = len(first)
        yield first
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_s
        while sent < max_lines and loop.time() < deadline:
            await asyncio.sleep(poll_s)
            new = [ln for ln in self.lines if ln.seq > last][: max_lines - sent]
            if new:
                last = new[-1].seq
                sent += len(new)
                yield new


@dataclass
class Health:
    """Reads the box's health; `probe_sip` is swapped in tests that have no Kamailio."""

    ctl: Controller
    logs: LogBuffer
    thermal: Path = THERMAL
    meminfo: Path = MEMINFO
    probe_sip: Callable[[str, int, float], int | None] = field(default=options_ping)
    probe_every_s: float = 2.0  # one OPTIONS per this many seconds however often the page is read
    _probe: tuple[float, int | None] | None = field(default=None, init=False, repr=False)
    _probe_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    async def _sip_code(self, ip: str, port: int) -> int | None:
        """The edge's OPTIONS answer, probed at most every `probe_every_s` (a status page polled by
        many browsers must not flood Kamailio, whose flood ban would then block the box itself)."""
        async with self._probe_lock:
            now = self.ctl.clock.monotonic()
            if self._probe is None or now - self._probe[0] >= self.probe_every_s:
                code = await asyncio.to_thread(self.probe_sip, ip, port, 0.3)
                self._probe = (self.ctl.clock.monotonic(), code)
            return self._probe[1]

    async def snapshot(self) -> dict[str, Any]:
        """The whole status document."""
        ctl = self.ctl
        s = ctl.settings
        ip = "127.0.0.1" if s.sip_ip == "0.0.0.0" else s.sip_ip
        code = await self._sip_code(ip, s.sip_port)
        disk = shutil.disk_usage(s.data_dir if s.data_dir.exists() else ".")
        load = os.getloadavg()
        cores = os.cpu_count() or 1
        try:
            mem = parse_meminfo(self.meminfo.read_text())
        except OSError:
            mem = None
        services = {}
        async with ctl.db.execute(
            "SELECT service, event, at, detail FROM service_events WHERE id IN"
            " (SELECT MAX(id) FROM service_events GROUP BY service) ORDER BY service"
        ) as cur:
            for service, event, at, detail in await cur.fetchall():
                services[str(service)] = {"event": str(event), "at": str(at), "detail": str(detail)}
        workers = [{"name": n, "legs_reserved": used, "capacity": cap,
                    "load": round(used / cap, 3) if cap else None}
                   for n, (used, cap) in ctl.sessions.placement.load().items()]
        cloud: dict[str, Any] = {"configured": bool(s.extra.get("cloud"))}
        if cloud["configured"]:
            async with ctl.db.execute("SELECT count(*) FROM sync_outbox") as cur:
                row = await cur.fetchone()
            cloud["backlog"] = int(row[0]) if row else 0
            if ctl.cloud_state is None:
                cloud.update(state="not_running", since=None, detail="cloud sync has not started")
            else:
                cloud.update({k: v for k, v in ctl.cloud_state().items() if k != "backlog"})
        temp = read_temperature(self.thermal)
        return {
            "sip_edge": {"state": "up" if code is not None else "down", "address": f"{ip}:{s.sip_port}",
                         "options_code": code, "last_event": services.get("kamailio")},
            "workers": workers,
            "sessions": len(ctl.sessions.sessions),
            "services": services,
            "modem": read_modem(s.run_dir / "modem.json", ctl.clock.now()),
            "cloud": cloud,
            "disk": {"free_bytes": disk.free, "total_bytes": disk.total,
                     "used_ratio": round(1 - disk.free / disk.total, 3) if disk.total else None},
            "cpu": {"cores": cores, "load_average": [round(x, 2) for x in load],
                    "load_percent": round(100 * load[0] / cores, 1)},
            "memory": None if mem is None else {"total_bytes": mem[0], "available_bytes": mem[1]},
            "temperature_c": temp,
            "temperature": "not available" if temp is None else f"{temp:.1f} °C",
        }
