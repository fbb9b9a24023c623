"""The ACD's push hook: waiters wake on a change, not on a poll."""

from __future__ import annotations

import asyncio

from appliance.controller.changes import Changes


async def test_a_waiter_wakes_on_the_next_change_and_sees_the_count() -> None:
    changes = Changes()
    waiting = asyncio.create_task(changes.wait_past(0, timeout=30))
    await asyncio.sleep(0)
    assert not waiting.done()
    changes.mark()
    assert await waiting == 1


async def test_a_change_already_past_returns_at_once_and_a_quiet_wait_times_out() -> None:
    changes = Changes()
    changes.mark()
    changes.mark()
    assert await changes.wait_past(1, timeout=30) == 2
    assert await changes.wait_past(2, timeout=0.01) == 2


async def test_every_waiter_is_woken_and_none_is_left_behind() -> None:
    changes = Changes()
    waiters = [asyncio.create_task(changes.wait_past(0, timeout=30)) for _ in range(3)]
    await asyncio.sleep(0)
    changes.mark()
    assert await asyncio.gather(*waiters) == [1, 1, 1]
    assert not changes._waiters
