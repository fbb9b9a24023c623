"""Wire cloud sync into the controller when the box has a cloud configured.

Settings (`extra.cloud` in appliance.json): host, port, node, and optionally prefix,
username, password, keepalive, metrics_interval, tls {ca, cert, key}. Without them the
box runs fully local: nothing is exported and nothing connects.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.cloud_hooks import CloudHooks, validate
from appliance.sync.client import SyncSettings, TlsSettings
from appliance.sync.exporter import Exporter
from appliance.sync.node import SyncHooks, SyncNode

if TYPE_CHECKING:
    from appliance.app import Controller


def sync_settings(cloud: dict[str, Any]) -> SyncSettings:
    """SyncSettings from the `extra.cloud` document; a clear error for a bad one."""
    try:
        tls = cloud.get("tls")
        return SyncSettings(
            host=str(cloud["host"]), port=int(cloud["port"]), node=str(cloud["node"]),
            prefix=str(cloud.get("prefix", "cc")), username=cloud.get("username"),
            password=cloud.get("password"), keepalive=int(cloud.get("keepalive", 30)),
            metrics_interval=float(cloud.get("metrics_interval", 60)),
            tls=TlsSettings(**tls) if isinstance(tls, dict) else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"cloud settings invalid: {exc!r}; need host, port and node") from exc


def metrics(ctl: Controller, node: SyncNode) -> dict[str, Any]:
    """The periodic metrics the fleet dashboard shows."""
    load = ctl.sessions.placement.load()
    disk = shutil.disk_usage(ctl.settings.data_dir)
    temp = None
    zone = "/sys/class/thermal/thermal_zone0/temp"
    if os.path.exists(zone):
        with open(zone) as f:
            temp = int(f.read().strip()) / 1000
    modem: dict[str, Any] = {}
    modem_file = ctl.settings.run_dir / "modem.json"
    if modem_file.exists():
        try:
            modem = json.loads(modem_file.read_text())
        except ValueError:
            modem = {}
    queues: dict[str, Any] = {}
    if ctl.sessions.queues is not None:
        for q, k in ctl.sessions.queues.kpis().items():
            queues[q] = {"waiting": k.waiting, "longest_wait_s": round(k.longest_wait_s, 1),
                         "service_level": k.service_level, "asa_s": k.asa_s, "abandon_rate": k.abandon_rate}
    sls = [q["service_level"] for q in queues.values() if q["service_level"] is not None]
    signal = modem.get("signal") if isinstance(modem.get("signal"), dict) else {}
    return {
        # the scalars the fleet dashboard lists and charts
        "active_calls": len(ctl.sessions.sessions),
        "queue_sl": round(100 * sum(sls) / len(sls), 1) if sls else None,
        "modem_signal": signal.get("rssi_dbm") if signal else None,
        "cpu": round(100 * os.getloadavg()[0] / (os.cpu_count() or 1), 1),
        # and the detail
        "queues": queues,
        "worker_legs": {n: {"reserved": u, "capacity": c} for n, (u, c) in load.items()},
        "disk_free_bytes": disk.free, "disk_total_bytes": disk.total,
        "load_1m": os.getloadavg()[0], "temperature_c": temp,
        "modem_state": modem.get("state"), "modem_signal_detail": modem.get("signal"),
        "outbox_backlog": node.outbox.backlog(),
    }


@dataclass
class Cloud:
    """The running cloud link of a box."""

    node: SyncNode
    exporter: Exporter

    async def stop(self) -> None:
        """Export what is left, drain (bounded), disconnect."""
        await self.exporter.stop()
        await self.node.stop()


async def start_cloud(ctl: Controller) -> Cloud | None:
    """Start sync if configured; None for a local-only box."""
    cloud = ctl.settings.extra.get("cloud")
    if not cloud:
        return None
    settings = sync_settings(dict(cloud))
    holder: dict[str, SyncNode] = {}
    box = CloudHooks(ctl)
    hooks = SyncHooks(
        validate_config=validate, apply_config=box.apply, restart_services=box.restart_services,
        recording_metadata=box.recording_metadata, metrics=lambda: metrics(ctl, holder["node"]),
    )
    node = await SyncNode.open(ctl.settings.db_path, settings, hooks)
    holder["node"] = node
    box.report_local = node.config.local_edit
    ctl.directory_listeners.append(box.directory_changed)
    exporter = Exporter(ctl.db, node.outbox)
    ctl.sessions.store.listeners.append(exporter.poke)
    exporter.start()
    await node.start()
    return Cloud(node, exporter)
