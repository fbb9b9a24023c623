"""Composition of the box side of cloud sync: outbox, client, config and command agents.

The controller creates one `SyncNode` and calls `await node.append(stream, type, data)`
for every event (CDRs, queue events, agent state, alarms); it returns once the event is
on disk.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from appliance.storage.db import open_db
from appliance.sync.agents import Applier, CommandAgent, ConfigAgent, Validator
from appliance.sync.client import SyncClient, SyncSettings
from appliance.sync.clock import Clock, SystemClock
from appliance.sync.commands import Command
from appliance.sync.envelope import Envelope
from appliance.sync.outbox import Outbox
from appliance.sync.policy import Policies
from appliance.sync.ulid import UlidGenerator


async def _no_restart(services: list[str]) -> None:
    raise RuntimeError(f"restarting {services} is not wired on this box")


async def _no_recordings(recording_id: str) -> dict[str, Any]:
    raise KeyError(f"no recording {recording_id!r}")


def _accept_all(_config: dict[str, Any]) -> list[str]:
    return []


async def _apply_nothing(_config: dict[str, Any]) -> None:
    return None


@dataclass
class SyncHooks:
    """What the rest of the appliance plugs into cloud sync."""

    validate_config: Validator = _accept_all
    apply_config: Applier = _apply_nothing
    restart_services: Callable[[list[str]], Awaitable[None]] = _no_restart
    recording_metadata: Callable[[str], Awaitable[dict[str, Any]]] = _no_recordings
    metrics: Callable[[], dict[str, Any]] | None = None


class SyncNode:
    """The box's cloud sync, wired by hand."""

    def __init__(self, conn: aiosqlite.Connection, db_path: Path, outbox: Outbox,
                 client: SyncClient, config: ConfigAgent, hooks: SyncHooks,
                 clock: Clock) -> None:
        self.conn = conn
        self.db_path = db_path
        self.outbox = outbox
        self.client = client
        self.config = config
        self.hooks = hooks
        self.commands = CommandAgent(client, clock, {
            "resync": self._resync, "restart_services": self._restart,
            "collect_diagnostics": self._diagnostics, "recording_metadata": self._recording,
        })

    @classmethod
    async def open(cls, db_path: Path, settings: SyncSettings, hooks: SyncHooks | None = None,
                   clock: Clock | None = None, policies: Policies | None = None) -> SyncNode:
        """Open the database and build every part (nothing connects until `start`)."""
        hooks = hooks or SyncHooks()
        clock = clock or SystemClock()
        conn = await open_db(db_path)
        outbox = await Outbox.open(conn, settings.node, clock, UlidGenerator(clock), policies)
        client = SyncClient(settings, outbox, clock, metrics_provider=hooks.metrics)
        config = ConfigAgent(conn, client, clock, hooks.validate_config, hooks.apply_config)
        await config.load()
        return cls(conn, db_path, outbox, client, config, hooks, clock)

    async def _resync(self, cmd: Command) -> dict[str, Any]:
        await self.client.republish_birth()
        await self.config.report_again()
        await self.outbox.unpark()
        self.client.request_resend()
        return {"seq": self.outbox.seq, "backlog": self.outbox.backlog_total()}

    async def _restart(self, cmd: Command) -> dict[str, Any]:
        services = [str(s) for s in cmd.args["services"]]
        await self.hooks.restart_services(services)
        return {"restarted": services}

    async def _diagnostics(self, cmd: Command) -> dict[str, Any]:
        return self.diagnostics()

    async def _recording(self, cmd: Command) -> dict[str, Any]:
        return await self.hooks.recording_metadata(str(cmd.args["recording_id"]))

    async def append(self, stream: str, type_: str, data: dict[str, Any]) -> Envelope:
        """Queue one event for the cloud; durable on disk when this returns."""
        return await self.outbox.append(stream, type_, data)

    def diagnostics(self) -> dict[str, Any]:
        """Snapshot of the sync state for the collect_diagnostics command."""
        c = self.client
        size = sum(p.stat().st_size for p in self.db_path.parent.glob(self.db_path.name + "*")
                   if p.exists())
        return {
            "link": c.link.state.value, "connects": c.connects, "delivered": c.delivered,
            "refused": c.refused, "in_flight": len(c.window), "seq": self.outbox.seq,
            "session": self.outbox.session, "backlog": self.outbox.backlog(),
            "config_version": self.config.current.version if self.config.current else 0,
            "db_bytes": size, "python": platform.python_version(), "pid": os.getpid(),
            "software_version": c.settings.software_version,
        }

    async def start(self) -> None:
        """Connect and start draining."""
        await self.client.start()

    async def stop(self) -> None:
        """Drain (bounded), disconnect and close the database."""
        try:
            await self.client.stop()
        finally:
            await self.conn.close()
