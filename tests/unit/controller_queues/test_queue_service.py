"""The queue service without media: dial plan, feature codes, event log, KPIs, lost-worker cleanup."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appliance.app import Controller, build_controller
from appliance.config import Settings
from appliance.controller.queue_config import queue_from_row
from appliance.controller.queues import QueueService
from appliance.domain.clock import ManualClock
from appliance.domain.dialplan import MediaService, Reject, ToMedia, route
from appliance.domain.errors import DomainError
from appliance.storage.db import open_db
from appliance.storage.queues import QueueRow, QueueStore


@pytest.fixture
async def ctl(tmp_path: Path) -> AsyncIterator[tuple[Controller, ManualClock]]:
    clock = ManualClock()
    c = await build_controller(Settings(data_dir=tmp_path, demo=True), clock)
    try:
        yield c, clock
    finally:
        if c.sessions.queues is not None:
            await c.sessions.queues.stop()
        await c.db.close()


def service(c: Controller) -> QueueService:
    assert c.sessions.queues is not None
    return c.sessions.queues


async def test_demo_queue_is_seeded_and_routed_as_a_two_leg_media_service(
    ctl: tuple[Controller, ManualClock],
) -> None:
    c, _ = ctl
    rows = await QueueStore(c.db).load()
    assert [(r.number, r.name, r.members, r.strategy, r.wrap_up_s) for r in rows] == [
        ("700", "Support queue", ("102", "103", "104", "105"), "leastrecent", 5.0)
    ]
    decision = route("700", "101", c.sessions.directory)
    assert decision == ToMedia(MediaService.QUEUE, "700") and decision.legs == 2
    await c.reload_directory()  # an admin change re-reads extensions: the queue stays routable
    assert route("700", "101", c.sessions.directory) == ToMedia(MediaService.QUEUE, "700")


async def test_feature_codes_route_only_from_agents(ctl: tuple[Controller, ManualClock]) -> None:
    c, _ = ctl
    d = c.sessions.directory
    for code in ("*45", "*46", "*47", "*472", "*48"):
        decision = route(code, "102", d)
        assert decision == ToMedia(MediaService.AGENT_FEATURE, code) and decision.legs == 1
    assert route("*45", "101", d) == Reject(403, "Not A Queue Agent")
    assert route("*479", "102", d) == Reject(404, "Unknown Pause Reason")


async def test_feature_codes_drive_the_agent_and_are_logged_durably(
    ctl: tuple[Controller, ManualClock], tmp_path: Path
) -> None:
    c, clock = ctl
    q = service(c)
    await q.agent_command("102", "*45")
    clock.advance(1)
    await q.agent_command("102", "*472")
    assert q.agent_states()["102"] == "paused:break"
    await q.agent_command("102", "*48")
    assert q.agent_states()["102"] == "available"
    logged = await QueueStore(c.db).events()
    with pytest.raises(DomainError):
        await q.agent_command("102", "*45")  # already logged in: refused, nothing changes
    assert await QueueStore(c.db).events() == logged
    assert q.agent_states()["102"] == "available"
    assert [(e.type, e.agent_id, e.data["new"]) for e in logged] == [
        ("AgentLoggedIn", "102", "available"),
        ("AgentPaused", "102", "paused"),
        ("AgentUnpaused", "102", "available"),
    ]
    assert logged[1].data["reason"] == "break" and logged[1].mono == 1.0
    # Committed: a second connection (as after a crash) reads the same rows.
    conn = sqlite3.connect(tmp_path / "appliance.db")
    try:
        assert [r[0] for r in conn.execute("SELECT type FROM queue_events ORDER BY id")] == [
            "AgentLoggedIn", "AgentPaused", "AgentUnpaused",
        ]
    finally:
        conn.close()


async def test_live_kpis_follow_joins_and_abandons(ctl: tuple[Controller, ManualClock]) -> None:
    c, clock = ctl
    q = service(c)
    await q.apply(q.dispatcher.join("700", "call-a", "101"), step=True)
    clock.advance(4)
    await q.apply(q.dispatcher.join("700", "call-b", "101"), step=True)
    clock.advance(8)
    k = q.kpis()["700"]
    assert (k.waiting, k.longest_wait_s, k.entered) == (2, 12.0, 2)
    await q.apply(q.dispatcher.abandon("call-a"), step=True)
    k = q.kpis()["700"]
    assert (k.waiting, k.abandoned, k.longest_wait_s, k.abandon_rate) == (1, 1, 8.0, 1.0)
    types = [e.type for e in await QueueStore(c.db).events(queue_id="700")]
    assert types == ["CallerJoined", "CallerJoined", "CallAbandoned"]


async def test_a_lost_call_frees_its_agent_without_wrap_up(ctl: tuple[Controller, ManualClock]) -> None:
    c, clock = ctl
    q = service(c)
    for agent in ("102", "103"):
        await q.agent_command(agent, "*45")
    await q.apply(q.dispatcher.join("700", "lost", "101"), step=True)
    await q.apply(q.dispatcher.join("700", "normal", "101"), step=True)
    offered = {a.call_id: a.agent_id for a in q.dispatcher.agents.values() if a.call_id}
    for call_id, agent in offered.items():
        await q.apply(q.dispatcher.answered(call_id, agent), step=True)
    clock.advance(30)
    await q._leave("lost", lost=True)
    await q._leave("normal", lost=False)
    states = q.agent_states()
    assert states[offered["lost"]] == "available"
    assert states[offered["normal"]] == "wrap_up"
    k = q.kpis()["700"]
    assert (k.answered, k.handled, k.waiting) == (2, 2, 0)


async def test_store_refuses_bad_queues_and_changes_nothing(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "a.db")
    try:
        store = QueueStore(db)
        with pytest.raises(DomainError):
            await store.create_queue(QueueRow("700", "Q", ("102",), on_timeout="nowhere:1"))
        with pytest.raises(sqlite3.IntegrityError):  # members must be extensions
            await store.create_queue(QueueRow("700", "Q", ("102",)))
        assert await store.load() == [] and not await store.has_queues()
        async with db.execute("SELECT COUNT(*) FROM queue_members") as cur:
            assert (await cur.fetchone())[0] == 0  # type: ignore[index]
    finally:
        await db.close()


def test_queue_configuration_is_checked() -> None:
    config = queue_from_row(QueueRow("700", "Q", ("102",), max_wait_s=30, on_timeout="extension:600")).config
    assert config.max_wait_s == 30 and str(config.on_timeout) == "extension:600"
    assert queue_from_row(QueueRow("700", "Q", ("102", "103"), strategy="ringall")).config.strategy.value == "ringall"
    with pytest.raises(DomainError, match="unknown strategy"):
        queue_from_row(QueueRow("700", "Q", ("102",), strategy="loudest"))
    with pytest.raises(DomainError, match="back to itself"):
        queue_from_row(QueueRow("700", "Q", ("102",), on_timeout="queue:700"))


async def test_agents_come_back_logged_in_and_paused_after_a_restart(tmp_path: Path) -> None:
    c = await build_controller(Settings(data_dir=tmp_path, demo=True), ManualClock())
    q = service(c)
    await q.agent_command("102", "*45")
    await q.agent_command("103", "*45")
    await q.agent_command("103", "*472")
    await q.agent_command("104", "*45")
    await q.agent_command("104", "*46")
    await q.stop()
    await c.db.close()
    again = await build_controller(Settings(data_dir=tmp_path, demo=True), ManualClock())
    try:
        states = service(again).agent_states()
        assert (states["102"], states["103"], states["104"], states["105"]) == (
            "available", "paused:break", "logged_out", "logged_out",
        )
    finally:
        await service(again).stop()
        await again.db.close()
