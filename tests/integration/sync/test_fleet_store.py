"""The fleet store's behaviour, run on both stores: SQLite and a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.sync.envelope import Envelope
from tests.integration.sync.conftest import STORE_KINDS
from tests.support.postgres import Postgres
from web.fleet.store import FleetStorage, open_store

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("store_kind", STORE_KINDS)]


def env(seq: int, *, type_: str = "cdr", eid: str | None = None, hist: bool = False,
        data: dict[str, object] | None = None, node: str = "box-1") -> Envelope:
    """An envelope as a box would send it."""
    return Envelope(type=type_, id=eid or f"ID{seq:06d}", node=node, session="S1", seq=seq,
                    ts=1000.0 + seq, data=data if data is not None else {"n": seq}, hist=hist)


async def test_events_are_stored_once_per_node_and_id_in_arrival_order(
        fleet_store: FleetStorage) -> None:
    s = fleet_store
    await s.begin()
    await s.touch("box-1", 1.0)
    assert await s.add_event("box-1", "cdr", env(2), 1.0)
    assert await s.add_event("box-1", "cdr", env(1, hist=True), 1.1)  # late arrival
    assert not await s.add_event("box-1", "cdr", env(2), 1.2)  # duplicate on the wire
    assert await s.add_event("box-2", "cdr", env(2, node="box-2"), 1.3)  # same id, other box
    assert await s.add_event("box-1", "queue", env(3, type_="queue_event"), 1.4)
    await s.commit()
    got = await s.events("box-1")
    assert [(e["id"], e["stream"], e["seq"], e["hist"]) for e in got] == [
        ("ID000002", "cdr", 2, False), ("ID000001", "cdr", 1, True),
        ("ID000003", "queue", 3, False)]
    assert got[0]["data"] == {"n": 2} and got[0]["received"] == 1.0
    assert [e["id"] for e in await s.events("box-1", "cdr")] == ["ID000002", "ID000001"]
    assert [e["seq"] for e in await s.events("box-1", limit=1)] == [2]
    assert [e["seq"] for e in await s.recent("box-1", "cdr", 1)] == [1]
    assert len(await s.events("box-2")) == 1


async def test_a_rolled_back_batch_leaves_nothing(fleet_store: FleetStorage) -> None:
    s = fleet_store
    await s.begin()
    await s.touch("box-1", 1.0)
    await s.add_event("box-1", "cdr", env(1), 1.0)
    await s.rollback()
    assert await s.events("box-1") == []
    assert await s.boxes() == []
    await s.begin()
    assert await s.add_event("box-1", "cdr", env(1), 2.0)  # not a duplicate of the lost one
    await s.commit()


async def test_online_since_changes_only_on_a_change(fleet_store: FleetStorage) -> None:
    s = fleet_store
    assert await s.set_online("box-1", True, 10.0)
    assert not await s.set_online("box-1", True, 11.0)
    box = await s.box("box-1")
    assert box is not None and box.online and box.since == 10.0 and box.last_seen == 11.0
    assert await s.set_online("box-1", False, 12.0)
    box = await s.box("box-1")
    assert box is not None and not box.online and box.since == 12.0
    assert await s.box("nope") is None


async def test_box_row_shows_birth_metrics_alarms_and_watermark(
        fleet_store: FleetStorage) -> None:
    s = fleet_store
    await s.set_online("box-1", True, 5.0)
    await s.set_birth("box-1", env(0, type_="birth", data={"version": "1.2.3", "backlog": 7,
                                                           "keepalive": 4}))
    assert (await s.box("box-1")).backlog == 7  # type: ignore[union-attr]
    await s.set_metrics("box-1", {"active_calls": 3, "outbox_backlog": 2})
    await s.add_event("box-1", "alarm", env(1, type_="alarm"), 6.0)
    await s.add_event("box-1", "alarm", env(2, type_="alarm"), 6.0)
    await s.set_seq_floor("box-1", 2)
    await s.set_resync("box-1", 7.0)
    await s.touch("box-0", 1.0)
    rows = await s.boxes()
    assert [b.node for b in rows] == ["box-0", "box-1"]
    b = rows[1]
    assert (b.version, b.backlog, b.metrics, b.seq_floor, b.alarms) == (
        "1.2.3", 2, {"active_calls": 3, "outbox_backlog": 2}, 2, 2)
    assert await s.birth("box-1") == {"version": "1.2.3", "backlog": 7, "keepalive": 4}
    assert await s.birth("box-0") is None
    assert await s.seq_floors() == {"box-0": 0, "box-1": 2}


async def test_gap_tracking_reads_only_durable_streams_above_the_floor(
        fleet_store: FleetStorage) -> None:
    s = fleet_store
    for seq, stream in [(1, "cdr"), (2, "metrics"), (3, "cdr"), (5, "queue")]:
        await s.add_event("box-1", stream, env(seq), 1.0)
    assert sorted(await s.seqs_above("box-1", 1)) == [3, 5]
    assert await s.seqs_above("box-2", 0) == []


async def test_desired_and_reported_config_are_kept_side_by_side(
        fleet_store: FleetStorage) -> None:
    s = fleet_store
    assert await s.config("box-1") == {}
    await s.set_desired("box-1", 1, {"timezone": "UTC"}, 1.0)
    await s.set_reported("box-1", 1, {"version": 1, "status": "applied"}, 2.0)
    await s.set_desired("box-1", 2, {"timezone": "Europe/Warsaw"}, 3.0)
    assert await s.config("box-1") == {
        "desired_version": 2, "desired": {"timezone": "Europe/Warsaw"}, "desired_at": 3.0,
        "reported_version": 1, "reported": {"version": 1, "status": "applied"},
        "reported_at": 2.0}
    await s.set_reported("box-2", None, {"error": "bad"}, 4.0)
    assert (await s.config("box-2"))["reported_version"] is None


async def test_command_results_in_arrival_order_one_per_status(
        fleet_store: FleetStorage) -> None:
    s = fleet_store
    await s.add_command_result("box-1", "C1", "accepted", {"id": "C1"}, 1.0)
    await s.add_command_result("box-1", "C1", "succeeded", {"id": "C1", "n": 1}, 2.0)
    await s.add_command_result("box-1", "C1", "succeeded", {"id": "C1", "n": 2}, 3.0)
    await s.add_command_result("box-1", "C2", "failed", {"reason": "x"}, 1.5)
    assert await s.command_results("box-1", "C1") == [
        {"status": "accepted", "id": "C1"}, {"status": "succeeded", "id": "C1", "n": 2}]
    assert await s.command_results("box-1", "C3") == []


async def test_what_was_committed_is_there_after_reopening(
        fleet_store: FleetStorage, store_kind: str, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    s = fleet_store
    await s.begin()
    await s.add_event("box-1", "cdr", env(1), 1.0)
    await s.set_online("box-1", True, 1.0)
    await s.commit()
    dsn = None
    if store_kind == "postgres":
        pg: Postgres = request.getfixturevalue("postgres")
        dsn = pg.dsn(await _pg_dbname(s))
    again = await open_store(tmp_path / "fleet.db", dsn)  # schema applied again: idempotent
    try:
        assert [e["id"] for e in await again.events("box-1")] == ["ID000001"]
        assert not await again.add_event("box-1", "cdr", env(1), 2.0)
        assert [(b.node, b.online) for b in await again.boxes()] == [("box-1", True)]
    finally:
        await again.close()


async def _pg_dbname(store: FleetStorage) -> str:
    rows = await store._rows("SELECT current_database()")  # type: ignore[attr-defined]
    return str(rows[0][0])
