"""QueueService.reload(): the running ACD follows storage; a queue gone from it drains, then goes."""

from __future__ import annotations

import dataclasses

from appliance.app import Controller
from appliance.controller.queues import QueueService
from appliance.storage.queues import QueueRow

SALES = QueueRow(number="710", name="Sales", members=("102", "103"))
VIP = QueueRow(number="711", name="VIP", members=("102",), max_misses=2)


async def stored(c: Controller, *rows: QueueRow) -> QueueService:
    """Storage holds exactly these queues; returns the queue service (not reloaded yet)."""
    await c.db.execute("DELETE FROM queues")
    await c.db.commit()
    for row in rows:
        await c.queues.store.create_queue(row)
    return c.queues


async def test_reload_loads_replaces_and_drops_queues(ctl: Controller) -> None:
    svc = await stored(ctl, SALES, VIP)
    assert await svc.reload() == []
    assert set(svc.dispatcher.queues) == {"710", "711"} and svc.dispatcher.agent("102").max_misses == 2
    await ctl.db.execute("INSERT INTO agent_skills(extension, skill, level) VALUES ('103', 'he', 7)")
    await ctl.db.commit()
    svc = await stored(ctl, dataclasses.replace(SALES, wrap_up_s=30))
    assert await svc.reload() == []
    assert set(svc.dispatcher.queues) == set(svc.rows) == set(svc.numbers()) == {"710"}
    assert svc.dispatcher.queue("710").config.wrap_up_s == 30
    assert dict(svc.dispatcher.queue("710").members["103"].skills) == {"he": 7}
    assert svc.dispatcher.agent("102").max_misses == 3  # the strict queue went


async def test_a_dropped_queue_with_a_caller_drains_then_goes(ctl: Controller) -> None:
    svc = await stored(ctl, SALES, VIP)
    await svc.reload()
    d = svc.dispatcher
    await svc.apply(d.join("711", "c1", "0501"), step=True)
    await stored(ctl, SALES)
    assert await svc.reload() == ["711"]
    assert set(svc.numbers()) == {"710"}  # no new callers
    assert d.queue("711").position("c1") == 1  # the caller keeps the place
    await svc.apply(d.join("710", "c2", "0502"), step=True)  # other traffic does not drop it early
    assert "711" in d.queues
    await svc.apply(d.abandon("c1"), step=True)
    assert "711" not in d.queues and "711" not in svc.rows and not svc.draining


async def test_a_draining_queue_stored_again_is_live_again(ctl: Controller) -> None:
    svc = await stored(ctl, SALES, VIP)
    await svc.reload()
    await svc.apply(svc.dispatcher.join("711", "c1", "0501"), step=True)
    await stored(ctl, SALES)
    await svc.reload()
    await stored(ctl, SALES, VIP)
    assert await svc.reload() == []
    assert set(svc.numbers()) == {"710", "711"}
    await svc.apply(svc.dispatcher.abandon("c1"), step=True)
    assert "711" in svc.dispatcher.queues  # stays: it is configured


async def test_a_draining_queue_removed_by_hand_is_forgotten(ctl: Controller) -> None:
    svc = await stored(ctl, SALES, VIP)
    await svc.reload()
    await svc.apply(svc.dispatcher.join("711", "c1", "0501"), step=True)
    await stored(ctl, SALES)
    await svc.reload()
    svc.dispatcher.abandon("c1")  # not applied yet: still draining
    assert svc.draining == {"711"}
    svc.remove("711")  # as the admin's DELETE does
    assert not svc.draining
    await svc.apply(svc.dispatcher.join("710", "c2", "0502"), step=True)  # nothing left to drop, no error
    assert set(svc.dispatcher.queues) == {"710"}
