"""SIGKILL mid-drain, the Will, and the per-box ACL against a real mosquitto."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from appliance.storage.db import open_db
from appliance.sync.clock import SystemClock
from appliance.sync.outbox import Outbox
from appliance.sync.ulid import UlidGenerator
from tests.integration.sync.boxproc import BoxProcess
from tests.integration.sync.conftest import PASSWORDS, STORE_KINDS, Box
from tests.support.mosquitto import Mosquitto
from web.fleet.service import FleetService

pytestmark = pytest.mark.integration
BACKLOG = 20_000
# mosquitto 2.0.11 (Debian) sweeps keepalives only every ~5 s, so its Will can come up to
# ~6 s after 1.5 x keepalive. The fleet's own liveness watch (box heartbeats every
# keepalive/3, web/fleet/liveness.py) holds the 1.5 x keepalive bound without it.


async def _prefill(db: Path, node: str, count: int) -> list[str]:
    clock = SystemClock()
    conn = await open_db(db)
    try:
        outbox = await Outbox.open(conn, node, clock, UlidGenerator(clock))
        ids: list[str] = []
        for start in range(0, count, 1000):
            envs = await outbox.append_many(
                "cdr", [("cdr", {"n": n}) for n in range(start, min(count, start + 1000))])
            ids += [e.id for e in envs]
        return ids
    finally:
        await conn.close()


@pytest.mark.parametrize("store_kind", STORE_KINDS)
async def test_sigkill_mid_drain_loses_nothing_and_fleet_removes_duplicates(
    broker: Mosquitto, fleet: FleetService, tmp_path: Path
) -> None:
    db = tmp_path / "box-1.db"
    ids = await _prefill(db, "box-1", BACKLOG)
    box = BoxProcess(db, "box-1", broker.port, PASSWORDS["box-1"], "--window", "32")
    try:
        await box.start()
        assert await fleet.wait_for(lambda: fleet.stored >= 1000, 60)
        await box.kill()
        killed_at = fleet.stored
        assert killed_at < BACKLOG, "drain finished before the kill: raise BACKLOG"

        await box.start()
        assert await fleet.wait_for(lambda: fleet.stored >= BACKLOG, 120), fleet.stored
        assert await box.terminate() == 0
    finally:
        await box.close()
    stored = await fleet.store.events("box-1", "cdr")
    assert [e["id"] for e in stored] == ids  # all of them, once, in order
    assert [e["seq"] for e in stored] == list(range(1, BACKLOG + 1))
    assert fleet.tracker("box-1").gaps() == []
    conn = await open_db(db)
    try:
        async with conn.execute("SELECT count(*) FROM sync_outbox") as cur:
            assert (await cur.fetchone())[0] == 0  # type: ignore[index]
    finally:
        await conn.close()
    print(f"killed after {killed_at} stored; duplicates on the wire: {fleet.duplicates}")


async def test_frozen_box_is_offline_on_the_fleet_within_one_and_a_half_keepalives(
    broker: Mosquitto, fleet: FleetService, tmp_path: Path
) -> None:
    keepalive = 2
    box = BoxProcess(tmp_path / "box-2.db", "box-2", broker.port, PASSWORDS["box-2"],
                     "--keepalive", str(keepalive))
    try:
        await box.start()
        assert await fleet.wait_for(lambda: fleet.online.get("box-2") is True, 15)
        frozen = time.monotonic()
        box.signal(signal.SIGSTOP)  # socket stays open: only the keepalive can tell
        bound = 1.5 * keepalive
        assert await fleet.wait_for(lambda: fleet.online.get("box-2") is False, bound + 10)
        took = time.monotonic() - frozen
        assert took <= bound, took
        print(f"offline after {took:.2f} s with keepalive {keepalive} s")
        rows = await fleet.store.boxes()
        assert [(b.node, b.online) for b in rows] == [("box-2", False)]
        assert fleet.silenced == 1  # the fleet's watch, not the (slower) Will
        # The Will still comes (the broker's own sweep) and changes nothing.
        assert await fleet.wait_for(lambda: fleet.offline_reasons.get("box-2") == "will", 15)
        assert [(b.node, b.online) for b in await fleet.store.boxes()] == [("box-2", False)]
    finally:
        await box.close()


async def test_sigkilled_box_is_marked_offline_by_its_will(
    broker: Mosquitto, fleet: FleetService, tmp_path: Path
) -> None:
    keepalive = 2
    box = BoxProcess(tmp_path / "box-3.db", "box-3", broker.port, PASSWORDS["box-3"],
                     "--keepalive", str(keepalive))
    try:
        await box.start()
        assert await fleet.wait_for(lambda: fleet.online.get("box-3") is True, 15)
        killed = time.monotonic()
        await box.kill()
        assert await fleet.wait_for(lambda: fleet.online.get("box-3") is False, 10)
        took = time.monotonic() - killed
        assert took <= 1.5 * keepalive, took
        # The socket closed with the process, so the broker sent the Will at once.
        assert fleet.offline_reasons.get("box-3") == "will"
    finally:
        await box.close()


class RawBox:
    """A bare paho MQTT 5 client logged in with a box's credentials (to probe the ACL)."""

    def __init__(self, port: int, user: str, loop: asyncio.AbstractEventLoop) -> None:
        self.acks: asyncio.Queue[tuple[int, ReasonCode]] = asyncio.Queue()
        self.messages: asyncio.Queue[str] = asyncio.Queue()
        self.subacks: asyncio.Queue[list[ReasonCode]] = asyncio.Queue()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{user}",
                        protocol=MQTTProtocolVersion.MQTTv5)
        c.username_pw_set(user, PASSWORDS[user])

        def put(fn: Any, arg: Any) -> None:
            loop.call_soon_threadsafe(fn, arg)

        c.on_publish = lambda _c, _u, mid, rc, _p: put(self.acks.put_nowait, (mid, rc))
        c.on_message = lambda _c, _u, m: put(self.messages.put_nowait, m.topic)
        c.on_subscribe = lambda _c, _u, _m, rcs, _p: put(self.subacks.put_nowait, rcs)
        c.on_connect = lambda _c, _u, _f, rc, _p: put(self.subacks.put_nowait, [rc])
        self.client = c
        c.connect("127.0.0.1", port)
        c.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_box_cannot_publish_or_read_under_another_node_id(
    broker: Mosquitto, fleet: FleetService, make_box: Any
) -> None:
    t = fleet.topics
    raw = RawBox(broker.port, "box-1", asyncio.get_running_loop())
    try:
        assert not (await asyncio.wait_for(raw.subacks.get(), 10))[0].is_failure  # CONNACK
        raw.client.subscribe(t.cmd_filter("box-2"), qos=1)
        raw.client.subscribe(t.cmd_filter("box-1"), qos=1)
        await asyncio.wait_for(raw.subacks.get(), 10)
        await asyncio.wait_for(raw.subacks.get(), 10)
        await fleet.send_command("box-2", "collect_diagnostics")
        await fleet.send_command("box-1", "collect_diagnostics")
        # QoS 1 from one publisher keeps its order: box-2's command would have come first.
        assert await asyncio.wait_for(raw.messages.get(), 10) == t.cmd("box-1",
                                                                      "collect_diagnostics")
        assert raw.messages.empty()

        forged = b'{"v":1}'
        mid = raw.client.publish(t.event("box-2", "cdr"), forged, qos=1).mid
        ack_mid, rc = await asyncio.wait_for(raw.acks.get(), 10)
        assert ack_mid == mid and rc.is_failure and "authori" in str(rc).lower()
    finally:
        raw.close()

    # A box whose node id does not match its credentials: mosquitto 2.0 answers the refused
    # PUBLISH with PUBACK "Not authorized" and then drops the connection. Its events stay
    # in its outbox, and its reconnects back off instead of storming.
    impostor: Box = await make_box("box-2", username="box-1", password=PASSWORDS["box-1"])
    await impostor.outbox.append("cdr", "cdr", {"n": 1})
    assert await impostor.client.wait_for(lambda: impostor.client.connects >= 3, 15)
    assert impostor.outbox.backlog_total() == 1
    assert impostor.client.delivered == 0

    box: Box = await make_box("box-1")
    legit = await box.outbox.append("cdr", "cdr", {"legit": True})
    assert await fleet.wait_for(lambda: fleet.stored >= 1, 15)
    assert [e["id"] for e in await fleet.store.events("box-1")] == [legit.id]
    assert await fleet.store.events("box-2") == []
