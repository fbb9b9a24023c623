"""An agent's missed-ring limit follows the strictest queue they serve, recomputed on every change."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appliance.acd.agent import AgentState
from appliance.acd.dispatcher import QueueBusy
from appliance.app import Controller, build_controller
from appliance.config import Settings
from appliance.controller.queue_config import queue_from_row
from appliance.controller.queues import QueueService
from appliance.domain.clock import ManualClock
from appliance.domain.errors import DomainError
from appliance.storage.queues import QueueRow

SALES = QueueRow(number="710", name="Sales", members=("102", "103"), max_misses=5)
VIP = QueueRow(number="711", name="VIP", members=("102",), max_misses=2)


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[QueueService]:
    c: Controller = await build_controller(Settings(data_dir=tmp_path, demo=False), ManualClock())
    try:
        assert c.sessions.queues is not None
        yield c.sessions.queues
    finally:
        if c.sessions.queues is not None:
            await c.sessions.queues.stop()
        await c.db.close()


def limits(svc: QueueService) -> dict[str, int]:
    return {a: agent.max_misses for a, agent in sorted(svc.dispatcher.agents.items())}


def miss(svc: QueueService, queue: str, call: str, agent: str) -> None:
    """One caller in `queue` is offered to `agent`, who lets it ring out; the caller hangs up."""
    d = svc.dispatcher
    d.join(queue, call, "100")
    [offer] = d.step().offers
    assert offer.agent_ids == (agent,)
    d.no_answer(call, agent)
    d.abandon(call)


def test_the_strictest_queue_sets_the_limit_whatever_the_load_order(svc: QueueService) -> None:
    svc.configure([SALES])
    assert limits(svc) == {"102": 5, "103": 5}
    svc.configure([VIP])  # 102 now also serves a queue that tolerates 2
    assert limits(svc) == {"102": 2, "103": 5}


def test_an_edit_changes_the_limit_of_agents_already_loaded(svc: QueueService) -> None:
    svc.configure([SALES, VIP])
    svc.configure([dataclasses.replace(SALES, max_misses=1)])
    assert limits(svc) == {"102": 1, "103": 1}
    svc.configure([dataclasses.replace(SALES, max_misses=4), dataclasses.replace(VIP, max_misses=6)])
    assert limits(svc) == {"102": 4, "103": 4}  # loosened too, not only tightened


def test_leaving_the_strict_queue_loosens_the_limit(svc: QueueService) -> None:
    svc.configure([SALES, VIP])
    svc.configure([dataclasses.replace(VIP, members=("103",))])  # 102 leaves VIP, 103 joins it
    assert limits(svc) == {"102": 5, "103": 2}
    svc.remove("711")
    assert limits(svc) == {"102": 5, "103": 5}
    svc.remove("710")
    assert limits(svc) == {"102": 5, "103": 5}  # in no queue now: the last limit stays


def test_a_refused_removal_keeps_the_limit(svc: QueueService) -> None:
    svc.configure([SALES, VIP])
    svc.dispatcher.join("711", "c1", "100")
    with pytest.raises(QueueBusy):
        svc.remove("711")
    assert limits(svc) == {"102": 2, "103": 5} and "711" in svc.rows


def test_the_new_limit_decides_the_auto_pause(svc: QueueService) -> None:
    svc.configure([SALES])
    d = svc.dispatcher
    d.agent("102").login()
    miss(svc, "710", "c1", "102")
    miss(svc, "710", "c2", "102")
    assert d.agent("102").state is AgentState.AVAILABLE  # 2 misses of 5
    svc.configure([VIP])  # now at most 2: the third miss in a row pauses
    miss(svc, "711", "c3", "102")
    assert d.agent("102").state is AgentState.PAUSED and d.agent("102").pause_reason == "no-answer"


def test_a_limit_out_of_range_is_refused_and_changes_nothing(svc: QueueService) -> None:
    svc.configure([SALES])
    for bad in (0, 21):
        with pytest.raises(DomainError, match="max_misses"):
            queue_from_row(dataclasses.replace(SALES, max_misses=bad))
        svc.configure([dataclasses.replace(SALES, max_misses=bad)])  # logged and skipped
        assert limits(svc) == {"102": 5, "103": 5} and svc.rows["710"].max_misses == 5
    with pytest.raises(DomainError, match="at least 1"):
        svc.dispatcher.set_max_misses("102", 0)
    with pytest.raises(DomainError, match="unknown agent"):
        svc.dispatcher.set_max_misses("999", 3)
