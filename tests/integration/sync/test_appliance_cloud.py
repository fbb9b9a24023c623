"""The running appliance reports to the fleet: a call's CDR arrives exactly once, also when
the broker was down while the call happened."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

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
        row = await fleet.store.box("box-1")
        assert row is not None
    finally:
        await asyncio.to_thread(box.stop)
