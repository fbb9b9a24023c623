"""Cloud -> box handlers: desired configuration and commands, wired to the sync client."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

from appliance.sync.client import SyncClient
from appliance.sync.clock import Clock
from appliance.sync.commands import (
    BUILTIN_SPECS,
    Command,
    CommandRejected,
    CommandSpec,
    parse_command,
)
from appliance.sync.config import (
    Action,
    ConfigDoc,
    ConfigError,
    Origin,
    decide,
    local_edit,
    parse_desired,
)

log = logging.getLogger(__name__)
Validator = Callable[[dict[str, Any]], list[str]]
Applier = Callable[[dict[str, Any]], Awaitable[None]]
CommandHandler = Callable[[Command], Awaitable[dict[str, Any]]]


class ConfigAgent:
    """Applies or rejects the retained desired doc, handles local edits, reports both."""

    def __init__(self, conn: aiosqlite.Connection, client: SyncClient, clock: Clock,
                 validate: Validator, apply: Applier) -> None:
        self._conn = conn
        self._client = client
        self._clock = clock
        self._validate = validate
        self._apply = apply
        self.node = client.settings.node
        self.current: ConfigDoc | None = None
        self.last_report: dict[str, Any] | None = None
        client.subscribe(client.topics.cfg_desired(self.node), self.on_desired)
        client.on_connected.append(self.report_again)

    async def load(self) -> None:
        """Read the current version from the database."""
        async with self._conn.execute(
            "SELECT version, config, origin FROM sync_config WHERE node = ?", (self.node,)
        ) as cur:
            row = await cur.fetchone()
        if row is not None:
            self.current = ConfigDoc(int(row[0]), json.loads(row[1]), Origin(row[2]))

    async def on_desired(self, _topic: str, payload: bytes) -> None:
        """Handle a desired doc from the cloud."""
        if not payload:
            return  # retained message cleared
        try:
            desired = parse_desired(payload)
        except ConfigError as exc:
            await self._report("rejected", str(exc))
            return
        decision = decide(self.current, desired)
        if decision.action is Action.IGNORE:
            await self._report("unchanged", decision.reason, desired_version=desired.version)
            return
        errors = self._validate(desired.config)
        if errors:
            await self._report("rejected", "; ".join(errors), desired_version=desired.version)
            return
        try:
            await self._apply(desired.config)
        except Exception as exc:
            log.exception("applying config version %d failed", desired.version)
            await self._report("rejected", f"apply failed: {exc}",
                               desired_version=desired.version)
            return
        await self._store(desired)
        extra = {"overridden_local": decision.overridden_local} if decision.overridden_local else {}
        await self._report("applied", decision.reason, desired_version=desired.version, **extra)

    async def local_edit(self, changes: dict[str, Any]) -> ConfigDoc:
        """Apply a local change: validate, apply, bump the version, report it."""
        doc = local_edit(self.current, changes)
        errors = self._validate(doc.config)
        if errors:
            raise ConfigError("; ".join(errors))
        await self._apply(doc.config)
        await self._store(doc)
        await self._report("applied", "local edit")
        return doc

    async def _store(self, doc: ConfigDoc) -> None:
        await self._conn.execute(
            "INSERT INTO sync_config(node, version, config, origin, updated) VALUES (?,?,?,?,?)"
            " ON CONFLICT(node) DO UPDATE SET version = excluded.version,"
            " config = excluded.config, origin = excluded.origin, updated = excluded.updated",
            (self.node, doc.version, json.dumps(doc.config), doc.origin.value, self._clock.now()),
        )
        self.current = doc

    async def _report(self, status: str, reason: str, **extra: Any) -> None:
        cur = self.current
        self.last_report = {
            "version": cur.version if cur else 0,
            "config": cur.config if cur else {},
            "origin": cur.origin.value if cur else None,
            "status": status,
            "reason": reason,
            **extra,
        }
        await self.report_again()

    async def report_again(self) -> None:
        """Publish the last report again (on every connect and on resync)."""
        if self.last_report is None:
            if self.current is None:
                return
            self.last_report = {"version": self.current.version, "config": self.current.config,
                                "origin": self.current.origin.value, "status": "applied",
                                "reason": "current"}
        env = self._client.outbox.envelope("cfg_reported", self.last_report)
        await self._client.publish_direct(self._client.topics.cfg_reported(self.node),
                                          env.encode(), retain=True)


class CommandAgent:
    """Validates commands, acknowledges them (accepted/succeeded/failed/rejected), runs them."""

    def __init__(self, client: SyncClient, clock: Clock,
                 handlers: dict[str, CommandHandler],
                 specs: dict[str, CommandSpec] | None = None) -> None:
        self._client = client
        self._clock = clock
        self._specs = dict(BUILTIN_SPECS if specs is None else specs)
        self._handlers = handlers
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.results: list[dict[str, Any]] = []
        client.subscribe(client.topics.cmd_filter(client.settings.node), self.on_command)

    async def on_command(self, topic: str, payload: bytes) -> None:
        """Handle one command message; never raises."""
        name = topic.rsplit("/", 1)[-1]
        try:
            cmd = parse_command(name, payload, self._specs, self._clock.now())
        except CommandRejected as exc:
            log.warning("command %s rejected: %s", name, exc.reason)
            await self._result(exc.cmd_id, name, "rejected", reason=exc.reason)
            return
        if cmd.id in self._seen:
            return  # redelivered by the broker: already handled
        self._seen[cmd.id] = None
        while len(self._seen) > 1000:
            self._seen.popitem(last=False)
        handler = self._handlers.get(cmd.name)
        if handler is None:
            await self._result(cmd.id, name, "rejected", reason="no handler on this box")
            return
        await self._result(cmd.id, name, "accepted")
        try:
            result = await handler(cmd)
        except Exception as exc:
            log.exception("command %s (%s) failed", cmd.name, cmd.id)
            await self._result(cmd.id, name, "failed", reason=f"{type(exc).__name__}: {exc}")
            return
        await self._result(cmd.id, name, "succeeded", result=result)

    async def _result(self, cmd_id: str | None, name: str, status: str, **extra: Any) -> None:
        body = {"cmd": name[:40], "cmd_id": cmd_id, "status": status, **extra}
        self.results.append(body)
        topic = self._client.topics.cmd_result(self._client.settings.node, cmd_id or "_invalid")
        env = self._client.outbox.envelope("cmd_res", body)
        await self._client.publish_direct(topic, env.encode())
