"""What a dispatcher step decides: callers who leave on time rules, and the offers in global service order."""

from __future__ import annotations

import heapq
import random
from collections.abc import Mapping, MutableMapping

from appliance.acd.agent import Agent
from appliance.acd.callback import CallbackBook, CallbackState
from appliance.acd.events import CallOffered, CallOverflowed, CallTimedOut
from appliance.acd.outcome import Offer, Outcome, Redirect
from appliance.acd.queue import Caller, Queue, is_empty
from appliance.acd.strategies import Candidate, choose


def expire(q: Queue, agents: Mapping[str, Agent], where: MutableMapping[str, str], now: float, out: Outcome) -> None:
    """Take out the callers past the queue's max wait, or all of them when it counts as empty (leave rule)."""
    cfg = q.config
    empty = is_empty(cfg.leave_when_empty, q.members, agents)
    for caller in list(q.waiting):
        if caller.callback or caller.offered_to:
            continue  # callbacks wait for staff; a ringing offer finishes first
        waited = caller.waited(now)
        if cfg.max_wait_s is not None and waited >= cfg.max_wait_s:
            q.remove(caller.call_id)
            del where[caller.call_id]
            out.events.append(
                CallTimedOut(
                    queue_id=q.queue_id,
                    call_id=caller.call_id,
                    at=now,
                    wait_s=waited,
                    destination=cfg.on_timeout,
                )
            )
            out.redirects.append(Redirect(caller.call_id, cfg.on_timeout, "timeout"))
        elif empty:
            q.remove(caller.call_id)
            del where[caller.call_id]
            out.events.append(
                CallOverflowed(
                    queue_id=q.queue_id,
                    call_id=caller.call_id,
                    at=now,
                    reason="leave_empty",
                    wait_s=waited,
                    destination=cfg.on_empty,
                )
            )
            out.redirects.append(Redirect(caller.call_id, cfg.on_empty, "leave_empty"))


def make_offers(
    queues: Mapping[str, Queue],
    agents: Mapping[str, Agent],
    available: set[str],
    where: Mapping[str, str],
    callbacks: CallbackBook,
    rng: random.Random,
    now: float,
    out: Outcome,
) -> None:
    """Greedy in global service order: each caller takes the best free agent it may have.

    A later caller never gets an agent an earlier caller (higher priority, or same priority
    and earlier arrival) could have taken, because earlier callers choose first.
    """
    free = set(available)
    if not free:
        return
    # Per queue, its free members (few in a busy center): the cost follows free agents, not staff size.
    pools: dict[str, list[tuple[int, str]]] = {}
    lines: list[list[Caller]] = []
    for q in queues.values():
        pool = sorted((q.order[a], a) for a in free if a in q.members)
        if pool:
            pools[q.queue_id] = pool
            lines.append(q.waiting)
    # Free agents only get fewer during a step, so a need nobody could meet stays unmet: skip it.
    unmet: set[tuple[str, frozenset[str], int]] = set()
    # Each queue's line is in service order already (priority, then arrival; joined_at grows
    # with seq), so the global order of callers is a lazy merge of the lines, not a sort.
    for caller in heapq.merge(*lines, key=Caller.sort_key):
        if caller.offered_to or caller.not_before > now:
            continue
        q = queues[where[caller.call_id]]
        need = (q.queue_id, caller.skills, q.config.min_level(caller.waited(now)) if caller.skills else 0)
        if need in unmet:
            continue
        candidates = [
            Candidate(q.members[a], agents[a], i)
            for i, a in pools[q.queue_id]
            if a in free and q.eligible(caller, q.members[a], now)
        ]
        chosen = choose(q, candidates, rng)
        if not chosen:
            unmet.add(need)
            continue
        for agent_id in chosen:
            out.events += agents[agent_id].reserve(caller.call_id, q.queue_id)
            free.discard(agent_id)
        caller.offered_to = tuple(chosen)
        q.last_offered = chosen[-1]
        cb = callbacks.get(caller.call_id) if caller.callback else None
        if cb is not None:
            cb.move(CallbackState.AGENT_RINGING)
        out.events.append(
            CallOffered(queue_id=q.queue_id, call_id=caller.call_id, at=now, agent_ids=caller.offered_to)
        )
        out.offers.append(
            Offer(caller.call_id, q.queue_id, caller.offered_to, q.config.ring_timeout_s, caller.callback)
        )
        if not free:
            return


def round_robin_memory(old: Queue, new: Queue) -> str | None:
    """Round-robin memory for a reconfigured queue: the member offered last, or, when they left,
    the nearest member before them who stayed (so the turn passes to whoever came next)."""
    if old.last_offered is None or old.last_offered in new.members:
        return old.last_offered
    before = list(old.members)[: old.order.get(old.last_offered, 0)]
    return next((a for a in reversed(before) if a in new.members), None)
