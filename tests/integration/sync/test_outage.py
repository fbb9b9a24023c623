"""Store-and-forward through a real mosquitto outage: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from typing import Any

import pytest

from appliance.sync.link import State
from tests.integration.sync.conftest import STORE_KINDS, Box
from tests.support.mosquitto import Mosquitto
from web.fleet.service import FleetService

# Fleet-store behaviour: run on SQLite and on a real PostgreSQL server.
pytestmark = [pytest.mark.integration, pytest.mark.parametrize("store_kind", STORE_KINDS)]
# The proof at full size: the broker down 60 s while the box produces 10,000 events
# (override with SYNC_TEST_OUTAGE_S / SYNC_TEST_EVENTS for quick local runs).
OUTAGE_S = float(os.environ.get("SYNC_TEST_OUTAGE_S", "60"))
EVENTS = int(os.environ.get("SYNC_TEST_EVENTS", "10000"))
STREAMS = ("cdr", "queue", "agent")


async def produce(box: Box, count: int, seconds: float, ids: dict[str, list[str]]) -> None:
    """Append `count` events round-robin over STREAMS, spread over about `seconds`."""
    batch = 10
    pause = seconds / max(1, count // batch)
    n = 0
    while n < count:
        for _ in range(batch):
            stream = STREAMS[n % len(STREAMS)]
            env = await box.outbox.append(stream, f"{stream}_event", {"n": n})
            ids[stream].append(env.id)
            n += 1
            if n == count:
                break
        await asyncio.sleep(pause)  # pacing the load, not synchronisation


async def test_broker_outage_loses_and_doubles_nothing(
    broker: Mosquitto, fleet: FleetService, make_box: Any
) -> None:
    box: Box = await make_box("box-1")
    await box.until(State.CONNECTED)
    ids: dict[str, list[str]] = defaultdict(list)
    before = EVENTS // 6
    await produce(box, before, 0.5, ids)

    broker.stop()
    await box.until(State.WAITING)
    await produce(box, EVENTS - 2 * before, OUTAGE_S, ids)
    assert box.outbox.backlog_total() >= EVENTS - 2 * before  # held on disk meanwhile
    broker.start()
    await produce(box, before, 0.5, ids)

    total = sum(len(v) for v in ids.values())
    assert total == EVENTS
    assert await fleet.wait_for(lambda: fleet.stored >= total, timeout=60), (
        f"fleet stored {fleet.stored} of {total}")
    for stream in STREAMS:
        stored = await fleet.store.events("box-1", stream)
        assert [e["id"] for e in stored] == ids[stream]  # exactly once, in order
        seqs = [e["seq"] for e in stored]
        assert seqs == sorted(seqs)
    assert any(e["hist"] for e in await fleet.store.events("box-1", "cdr"))
    assert fleet.tracker("box-1").gaps() == []
    assert fleet.tracker("box-1").floor == total
    await box.client.stop()
    assert box.outbox.backlog_total() == 0
