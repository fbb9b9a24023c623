"""Wire cloud sync into the controller when the box has a cloud configured.

Settings (`extra.cloud` in appliance.json): host, port, node, and optionally prefix,
username, password, keepalive, metrics_interval, tls {ca, cert, key}. Without them the
box runs fully local: nothing is exported and nothing connects.

The status page shows the link as the people in the office think of it: `connected`,
`connecting` (the first attempt since start) or `offline` (since the moment data stopped
flowing, however many retries follow), with since-when and the outbox backlog.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from appliance.cloud_hooks import CloudHooks, validate
from appliance.domain.clock import Clock
from appliance.sync.client import SyncSettings, TlsSettings
from appliance.sync.exporter import Exporter
from appliance.sync.link import State
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


class LinkView(Enum):
    """The cloud link as the status page names it."""

    CONNECTING = "connecting"  # first attempt since start, not yet through
    CONNECTED = "connected"
    OFFLINE = "offline"  # data is not flowing: backing off, retrying, or stopped


def next_view(view: LinkView, link: State) -> LinkView:
    """The view after the sync link moved to `link` (pure): a retry after a failure stays offline."""
    if link in (State.CONNECTED, State.DRAINING):
        return LinkView.CONNECTED
    if link in (State.WAITING, State.STOPPED):
        return LinkView.OFFLINE
    if link is State.CONNECTING and view is LinkView.CONNECTED:
        return LinkView.OFFLINE  # cannot happen from the link's own machine, but never show a stale "connected"
    return view  # IDLE, or CONNECTING while connecting or offline


@dataclass
class CloudLinkState:
    """The link's view and since-when, kept up to date by the sync link's listener."""

    clock: Clock
    view: LinkView = LinkView.CONNECTING
    since: datetime | None = None
    link: State = State.IDLE
    connects: int = 0
    last_connected: datetime | None = None
    backlog: Callable[[], int] | None = field(default=None, repr=False)  # outbox rows not yet acknowledged

    def __post_init__(self) -> None:
        if self.since is None:
            self.since = self.clock.now()

    def on_link(self, _old: State, new: State) -> None:
        """Listener for the sync link's transitions (called on the event loop)."""
        self.link = new
        view = next_view(self.view, new)
        if new is State.CONNECTED:
            self.connects += 1
            self.last_connected = self.clock.now()
        if view is not self.view:
            self.view, self.since = view, self.clock.now()

    def public(self) -> dict[str, Any]:
        """What the status page and /api/v1/system show."""
        return {
            "state": self.view.value, "since": self.since.isoformat() if self.since else None,
            "link": self.link.value, "connects": self.connects,
            "last_connected": self.last_connected.isoformat() if self.last_connected else None,
            "backlog": self.backlog() if self.backlog is not None else None,
        }


@dataclass
class Cloud:
    """The running cloud link of a box."""

    node: SyncNode
    exporter: Exporter
    state: CloudLinkState

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
    state = CloudLinkState(ctl.clock, backlog=node.outbox.backlog_total)
    node.client.link.listeners.append(state.on_link)
    ctl.cloud_state = state.public
    box.report_local = node.config.local_edit
    ctl.directory_listeners.append(box.directory_changed)
    exporter = Exporter(ctl.db, node.outbox)
    ctl.sessions.store.listeners.append(exporter.poke)
    exporter.start()
    await node.start()
    return Cloud(node, exporter, state)
