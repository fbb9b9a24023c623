"""Routing strategies: which of a queue's eligible, available members get the offer."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from appliance.acd.agent import Agent
from appliance.acd.queue import Member, Queue, Strategy


@dataclass(frozen=True)
class Candidate:
    """An available member eligible for the caller, with its place in the member list."""

    member: Member
    agent: Agent
    order: int  # index in the queue's member list (the linear and round-robin order)


def choose(queue: Queue, candidates: Sequence[Candidate], rng: random.Random) -> list[str]:
    """Agent ids to ring for the head caller: all of the best penalty group for ring-all, else one."""
    if not candidates:
        return []
    strategy = queue.config.strategy
    if strategy is Strategy.WEIGHTED_RANDOM:
        return [_weighted_random(candidates, rng)]
    # Every other strategy treats penalty as a hard preference: the lowest penalty group first.
    best = min(c.member.penalty for c in candidates)
    group = sorted((c for c in candidates if c.member.penalty == best), key=lambda c: c.order)
    if strategy is Strategy.RING_ALL:
        return [c.agent.agent_id for c in group]
    if strategy is Strategy.LINEAR:
        return [group[0].agent.agent_id]
    if strategy is Strategy.LONGEST_IDLE:
        return [min(group, key=lambda c: (c.agent.idle_since(), c.order)).agent.agent_id]
    if strategy is Strategy.FEWEST_CALLS:
        qid = queue.queue_id
        pick = min(group, key=lambda c: (c.agent.calls_by_queue.get(qid, 0), c.agent.idle_since(), c.order))
        return [pick.agent.agent_id]
    if strategy is Strategy.ROUND_ROBIN:
        return [_round_robin(queue, group)]
    return [rng.choice(group).agent.agent_id]  # Strategy.RANDOM


def _round_robin(queue: Queue, group: Sequence[Candidate]) -> str:
    """The first candidate after the member offered last, wrapping around the member list."""
    order = list(queue.members)
    last = queue.last_offered
    start = order.index(last) + 1 if last in queue.members else 0
    ranked = sorted(group, key=lambda c: (c.order - start) % len(order))
    return ranked[0].agent.agent_id


def _weighted_random(candidates: Sequence[Candidate], rng: random.Random) -> str:
    """Random, each member weighted 1 / (1 + penalty): penalty 0 is twice as likely as penalty 1."""
    ordered = sorted(candidates, key=lambda c: c.order)
    weights = [1.0 / (1 + c.member.penalty) for c in ordered]
    return rng.choices(ordered, weights=weights, k=1)[0].agent.agent_id
