"""Config round trip (incl. a version conflict) and command handling through mosquitto."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from appliance.sync.__main__ import demo_validate
from appliance.sync.client import SyncSettings
from appliance.sync.link import State
from appliance.sync.node import SyncHooks, SyncNode
from tests.integration.sync.conftest import PASSWORDS, STORE_KINDS
from tests.support.mosquitto import Mosquitto
from web.fleet.service import FleetService

# Fleet-store behaviour: run on SQLite and on a real PostgreSQL server.
pytestmark = [pytest.mark.integration, pytest.mark.parametrize("store_kind", STORE_KINDS)]


class Hooks:
    """Records what the sync layer asked the appliance to do."""

    def __init__(self) -> None:
        self.applied: list[dict[str, Any]] = []
        self.restarted: list[list[str]] = []

    async def apply(self, config: dict[str, Any]) -> None:
        self.applied.append(config)

    async def restart(self, services: list[str]) -> None:
        self.restarted.append(services)

    async def recording(self, recording_id: str) -> dict[str, Any]:
        if recording_id != "rec-1":
            raise KeyError(f"no recording {recording_id}")
        return {"recording_id": "rec-1", "duration": 42, "sha256": "ab" * 32}


@pytest.fixture
async def node(broker: Mosquitto, tmp_path: Path) -> AsyncIterator[tuple[SyncNode, Hooks]]:
    hooks = Hooks()
    settings = SyncSettings("127.0.0.1", broker.port, "box-1", username="box-1",
                            password=PASSWORDS["box-1"], backoff_max=1.0)
    n = await SyncNode.open(tmp_path / "box.db", settings, SyncHooks(
        validate_config=demo_validate, apply_config=hooks.apply,
        restart_services=hooks.restart, recording_metadata=hooks.recording))
    changed: list[State] = []
    n.client.link.listeners.append(lambda _o, new: changed.append(new))
    await n.start()
    try:
        yield n, hooks
    finally:
        await n.stop()


async def _reported(fleet: FleetService, reason_has: str = "", **want: Any) -> dict[str, Any]:
    def ok() -> bool:
        r = fleet.reported.get("box-1", {})
        return all(r.get(k) == v for k, v in want.items()) and reason_has in r.get("reason", "")
    assert await fleet.wait_for(ok, 15), f"reported {fleet.reported.get('box-1')} != {want}"
    return fleet.reported["box-1"]


async def test_config_round_trip_with_conflict_stale_and_rejection(
    fleet: FleetService, node: tuple[SyncNode, Hooks]
) -> None:
    box, hooks = node
    desired = fleet.topics.cfg_desired("box-1")
    await fleet.wait_for(lambda: fleet.online.get("box-1", False), 15)

    v1 = await fleet.push_desired("box-1", {"timezone": "Europe/Warsaw"})
    assert v1 == 1
    r = await _reported(fleet, version=1, status="applied")
    assert r["config"] == {"timezone": "Europe/Warsaw"} and hooks.applied[-1] == r["config"]

    # A local edit on the box bumps the version and is reported.
    doc = await box.config.local_edit({"moh": "jazz"})
    assert doc.version == 2
    await _reported(fleet, version=2, origin="local")

    # Conflict: the cloud also made a version 2 (without seeing the local one).
    fleet.publish_raw(desired, json.dumps({"version": 2, "config": {"timezone": "UTC"}}).encode(),
                      retain=True)
    r = await _reported(fleet, version=2, origin="cloud")
    assert r["config"] == {"timezone": "UTC"}
    assert r["overridden_local"] == {"timezone": "Europe/Warsaw", "moh": "jazz"}
    assert hooks.applied[-1] == {"timezone": "UTC"}

    # Stale: a lower version is ignored and the box keeps what it has.
    fleet.publish_raw(desired, json.dumps({"version": 1, "config": {"moh": "x"}}).encode(),
                      retain=True)
    r = await _reported(fleet, status="unchanged", desired_version=1)
    assert r["version"] == 2 and r["config"] == {"timezone": "UTC"}

    # The fleet's next push takes the higher of desired and reported versions.
    assert await fleet.push_desired("box-1", {"timezone": "UTC", "max_calls": 8}) == 3
    await _reported(fleet, version=3, status="applied")

    # Invalid content is rejected with the reason and changes nothing.
    n_applied = len(hooks.applied)
    assert await fleet.push_desired("box-1", {"max_calls": 0, "colour": "red"}) == 4
    r = await _reported(fleet, status="rejected", desired_version=4)
    assert "max_calls must be >= 1" in r["reason"] and "unknown key 'colour'" in r["reason"]
    assert r["version"] == 3 and len(hooks.applied) == n_applied

    fleet.publish_raw(desired, b"{not json", retain=True)
    await _reported(fleet, status="rejected", reason_has="not JSON")
    assert box.config.current is not None and box.config.current.version == 3
    fleet.publish_raw(desired, b"", retain=True)  # clear the retained doc


def _cmd(cmd_id: str, expires: float, **args: Any) -> bytes:
    return json.dumps({"id": cmd_id, "expires": expires, "args": args}).encode()


async def test_commands_are_acknowledged_or_rejected_with_a_reason(
    fleet: FleetService, node: tuple[SyncNode, Hooks]
) -> None:
    box, hooks = node
    await fleet.wait_for(lambda: fleet.online.get("box-1", False), 15)
    t = fleet.topics
    now = time.time()
    fleet.publish_raw(t.cmd("box-1", "self_destruct"), _cmd("c-unknown", now + 60))
    fleet.publish_raw(t.cmd("box-1", "resync"), _cmd("c-expired", now - 10))
    fleet.publish_raw(t.cmd("box-1", "resync"), b"{broken")
    fleet.publish_raw(t.cmd("box-1", "recording_metadata"), _cmd("c-badarg", now + 60,
                                                                  recording_id=5))
    fleet.publish_raw(t.cmd("box-1", "resync"), _cmd("c-big", now + 60, pad="x" * 10_000))
    diag = await fleet.send_command("box-1", "collect_diagnostics")
    rec = await fleet.send_command("box-1", "recording_metadata", {"recording_id": "rec-1"})
    missing = await fleet.send_command("box-1", "recording_metadata", {"recording_id": "nope"})
    restart = await fleet.send_command("box-1", "restart_services", {"services": ["kamailio"]})
    resync = await fleet.send_command("box-1", "resync")

    def final(cmd_id: str) -> dict[str, Any] | None:
        done = [r for r in fleet.command_results.get(cmd_id, [])
                if r["status"] in ("succeeded", "failed", "rejected")]
        return done[-1] if done else None

    ids = [diag, rec, missing, restart, resync, "c-unknown", "c-expired", "c-badarg"]
    assert await fleet.wait_for(
        lambda: all(final(i) for i in ids) and len(fleet.command_results.get("_invalid", [])) >= 2,
        15), fleet.command_results

    assert "unknown command" in final("c-unknown")["reason"]  # type: ignore[index]
    assert "expired" in final("c-expired")["reason"]  # type: ignore[index]
    assert "recording_id" in final("c-badarg")["reason"]  # type: ignore[index]
    invalid = sorted(r["reason"] for r in fleet.command_results["_invalid"])
    assert invalid[0].startswith("malformed: not JSON") and invalid[1].startswith("oversized")

    for cmd_id in (diag, rec, restart, resync):
        statuses = [r["status"] for r in fleet.command_results[cmd_id]]
        assert statuses == ["accepted", "succeeded"], (cmd_id, statuses)
    assert final(diag)["result"]["link"] == "connected"  # type: ignore[index]
    assert final(rec)["result"]["duration"] == 42  # type: ignore[index]
    assert final(missing)["status"] == "failed"  # type: ignore[index]
    assert "nope" in final(missing)["reason"]  # type: ignore[index]
    assert hooks.restarted == [["kamailio"]]

    # The box survived all of it: an event still reaches the fleet.
    env = await box.append("cdr", "cdr", {"after": "commands"})
    assert await fleet.wait_for(lambda: fleet.stored >= 1, 15)
    assert [e["id"] for e in await fleet.store.events("box-1", "cdr")] == [env.id]
