"""Builders for ACD tests: a dispatcher with agents logged in and queues set up."""

from __future__ import annotations

import random
from collections.abc import Iterable

from appliance.acd.dispatcher import Dispatcher
from appliance.acd.outcome import Outcome
from appliance.acd.queue import Member, Queue, QueueConfig
from appliance.domain.clock import ManualClock


def build(
    config: QueueConfig, agents: Iterable[str | Member], *, seed: int = 1, login: bool = True
) -> tuple[Dispatcher, ManualClock]:
    """One queue with these members, all logged in (unless login=False)."""
    clock = ManualClock()
    d = Dispatcher(clock, random.Random(seed))
    members = [a if isinstance(a, Member) else Member(a) for a in agents]
    for m in members:
        d.add_agent(m.agent_id)
        if login:
            d.agent(m.agent_id).login()
    d.add_queue(Queue(config, members))
    return d, clock


def offered(out: Outcome) -> list[tuple[str, tuple[str, ...]]]:
    """(call, agents) for each offer in an outcome."""
    return [(o.call_id, o.agent_ids) for o in out.offers]


def serve_one(d: Dispatcher, clock: ManualClock, queue_id: str, call_id: str, talk_s: float = 10) -> tuple[str, ...]:
    """One caller joins, is offered, the first offered agent answers, talks, hangs up; returns who was rung."""
    d.join(queue_id, call_id, "100")
    out = d.step()
    [offer] = out.offers
    d.answered(call_id, offer.agent_ids[0])
    clock.advance(talk_s)
    d.hangup(call_id)
    clock.advance(1)
    d.step()
    return offer.agent_ids
