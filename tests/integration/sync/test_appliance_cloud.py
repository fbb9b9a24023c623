"""The running appliance reports to the fleet: a call's CDR arrives exactly once, also when
the broker was down while the call happened."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx

from tests.integration.sync.conftest import PASSWORDS
from tests.support.appliance import Appliance, make_appliance
from tests.support.mosquitto import Mosquitto
from tests.support.phone import Phone
from web.fleet.service import FleetService


def echo_call(box: Appliance, seconds: float = 1.0) -> None:
    with Phone() as phone:
        assert phone.register("101", box.passwords["101"], registrar=box.sip) == 200
        call = phone.call(f"sip:*43@{box.sip}", user="101")
        phone.wait(call, "confirmed", timeout=10)
        time.sleep(seconds)
        phone.hangup(call)
        phone.wait(call, "disconnected", timeout=10)


async def cdr_events(fleet: FleetService, call_ids: set[str], timeout: float = 30) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    got: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        got = [e for e in await fleet.store.events("box-1", "cdr") if e["data"]["call_id"] in call_ids]  # type: ignore[index]
        if {e["data"]["call_id"] for e in got} == call_ids:  # type: ignore[index]
            await asyncio.sleep(1.0)  # and nothing more arrives after
            return [e for e in await fleet.store.events("box-1", "cdr") if e["data"]["call_id"] in call_ids]  # type: ignore[index]
        await asyncio.sleep(0.3)
    raise TimeoutError(f"CDRs {call_ids} not in the fleet store: {got}")


async def test_cdrs_reach_the_fleet_exactly_once_across_an_outage(
    broker: Mosquitto, fleet: FleetService, tmp_path: Path
) -> None:
    box = make_appliance(tmp_path / "box", workers=1)
    box.data_dir.mkdir(parents=True)
    cloud = {"host": "127.0.0.1", "port": broker.port, "node": "box-1", "username": "box-1",
             "password": PASSWORDS["box-1"], "keepalive": 5, "metrics_interval": 2}
    (box.data_dir / "appliance.json").write_text(json.dumps({"extra": {"cloud": cloud}}))
    await asyncio.to_thread(box.start)
    try:
        await asyncio.to_thread(echo_call, box)
        first = {r["call_id"] for r in box.query("SELECT call_id FROM cdrs WHERE callee='*43'")}
        events = await cdr_events(fleet, first)
        assert len(events) == 1 and events[0]["data"]["sip_code"] == 200  # type: ignore[index]

        broker.stop()
        await asyncio.to_thread(echo_call, box)
        await asyncio.to_thread(echo_call, box)
        await asyncio.sleep(1)
        broker.start()
        all_ids = {r["call_id"] for r in box.query("SELECT call_id FROM cdrs WHERE callee='*43'")}
        assert len(all_ids) == 3
        events = await cdr_events(fleet, all_ids)
        assert sorted(e["data"]["call_id"] for e in events) == sorted(all_ids)  # type: ignore[index]
        seqs = [int(str(e["seq"])) for e in events]
        assert seqs == sorted(seqs)
        async def metrics() -> dict[str, object] | None:
            row = await fleet.store.box("box-1")
            return row.metrics if row is not None and "active_calls" in row.metrics else None

        m = await wait_until(metrics)
        assert {"active_calls", "queue_sl", "modem_signal", "cpu", "outbox_backlog", "worker_legs"} <= set(m)
        assert m["worker_legs"] == {"w1": {"reserved": 0, "capacity": 4}}
    finally:
        await asyncio.to_thread(box.stop)


async def wait_until(pred, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = await pred()
        if got:
            return got
        await asyncio.sleep(0.3)
    raise TimeoutError("condition not met")


async def test_remote_config_commands_and_acd_streams_on_a_real_box(
    broker: Mosquitto, fleet: FleetService, tmp_path: Path
) -> None:
    box = make_appliance(tmp_path / "box", workers=1)
    box.data_dir.mkdir(parents=True)
    cloud = {"host": "127.0.0.1", "port": broker.port, "node": "box-1", "username": "box-1",
             "password": PASSWORDS["box-1"], "keepalive": 5, "metrics_interval": 2}
    (box.data_dir / "appliance.json").write_text(json.dumps({"extra": {"cloud": cloud}}))
    await asyncio.to_thread(box.start)
    try:
        # a desired configuration is validated, applied in one transaction and reported
        v1 = await fleet.push_desired("box-1", {
            "ring_groups": {"600": {"name": "Front desk", "members": ["104", "103"], "ring_seconds": 10}},
            "extensions": {"101": {"display_name": "Reception desk"}},
        })
        await wait_until(lambda: _reported(fleet, v1, "applied"))
        assert [r["extension"] for r in box.query(
            "SELECT extension FROM ring_group_members WHERE ring_group='600' ORDER BY position")] == ["104", "103"]
        assert box.query("SELECT display_name FROM extensions WHERE number='101'")[0][0] == "Reception desk"
        # a document that does not fit the box is rejected with the reason and changes nothing
        v2 = await fleet.push_desired("box-1", {
            "ring_groups": {"600": {"name": "X", "members": ["104", "999"]}},
            "extensions": {"101": {"display_name": "Changed"}},
        })
        rejected = await wait_until(lambda: _reported(fleet, v2, "rejected"))
        assert "999" in json.dumps(rejected)
        assert box.query("SELECT display_name FROM extensions WHERE number='101'")[0][0] == "Reception desk"
        v3 = await fleet.push_desired("box-1", {"trunks": {}})
        assert "unknown keys" in json.dumps(await wait_until(lambda: _reported(fleet, v3, "rejected")))

        # a local edit on the box's admin page bumps the version and is reported
        web = httpx.AsyncClient(base_url=f"https://127.0.0.1:{box.web_port}", verify=False, timeout=10)
        r = await web.post("/api/v1/setup", json={"username": "admin", "password": "a long enough passphrase 2"})
        web.headers["x-csrf-token"] = r.json()["csrf_token"]
        r = await web.patch("/api/v1/ring-groups/600", json={"members": ["105"]})
        assert r.status_code == 200, r.text

        async def local_reported() -> dict[str, object] | None:
            cfg = await fleet.store.config("box-1")
            body = cfg.get("reported") or {}
            if (cfg.get("reported_version") or 0) > v1 and body.get("reason") == "local edit":
                return cfg
            return None

        local = await wait_until(local_reported)
        assert local["reported"]["config"]["ring_groups"]["600"]["members"] == ["105"]  # type: ignore[index]
        await web.aclose()

        # recording metadata and a worker restart, as commands
        cmd = await fleet.send_command("box-1", "recording_metadata", {"recording_id": "999999"})
        failed = await wait_until(lambda: _result(fleet, cmd, "failed"))
        assert "999999" in json.dumps(failed)
        cmd = await fleet.send_command("box-1", "restart_services", {"services": ["workers"]})
        await wait_until(lambda: _result(fleet, cmd, "succeeded"))
        box.wait_rows("SELECT * FROM service_events WHERE service='worker-w1' AND event='restarted'")
        await asyncio.to_thread(box.wait_workers, 1)

        # an agent logging in with *45 reaches the fleet on the agent stream
        def login() -> None:
            with Phone() as agent:
                assert agent.register("102", box.passwords["102"], registrar=box.sip) == 200
                c = agent.call(f"sip:*45@{box.sip}", user="102")
                agent.wait(c, "disconnected", timeout=15)

        await asyncio.to_thread(login)
        events = await wait_until(lambda: _agent_events(fleet), timeout=30)
        assert any(e["type"] == "AgentLoggedIn" and e["data"]["agent_id"] == "102" for e in events)
    finally:
        await asyncio.to_thread(box.stop)


async def _reported(fleet: FleetService, version: int, status: str) -> dict[str, object] | None:
    cfg = await fleet.store.config("box-1")
    body = cfg.get("reported") or {}
    if body.get("desired_version") == version and body.get("status") == status:
        return body
    return None


async def _result(fleet: FleetService, cmd_id: str, status: str) -> dict[str, object] | None:
    for r in await fleet.store.command_results("box-1", cmd_id):
        if r.get("status") == status:
            return r
    return None


async def _agent_events(fleet: FleetService) -> list[dict[str, object]]:
    return await fleet.store.events("box-1", "agent")
