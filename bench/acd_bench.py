"""ACD routing-decision time: 1,000 agents, 500 waiting callers, 20 queues (issue 3's bench).

    .venv/bin/python -m bench.acd_bench --decisions 5000

The pure `Dispatcher` (appliance/acd) is loaded to the issue's size: 20 queues (the seven
strategies in turn, skills with levels and widening tiers on half of them), 1,000 logged-in
agents each a member of three queues with penalties and skill levels, every agent on a call,
and 500 callers waiting (mixed priorities). Then, `--decisions` times: one random talking
call ends (the agent becomes free) and we time the `step()` that picks the next caller for
that agent -- the routing decision -- then answer the offer and add a new waiting caller so
the load stays at 500. Also timed: `join()` of a caller, and `step()` when no agent is free
(what every timer tick costs). Medians and p99 in microseconds of the thread's CPU time
(CLOCK_THREAD_CPUTIME_ID): on a shared, noisy machine wall time would mostly measure the
neighbours; the decision is pure CPU work, so CPU time is its cost.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from appliance.acd.dispatcher import Dispatcher
from appliance.acd.queue import Member, Queue, QueueConfig, Strategy, Tier
from appliance.domain.clock import ManualClock

QUEUES = 20
AGENTS = 1000
WAITING = 500
SKILLS = ("billing", "tech", "sales", "hebrew", "arabic")


def build(rng: random.Random) -> tuple[Dispatcher, ManualClock]:
    """A dispatcher with the bench's queues and agents, all agents logged in and free."""
    clock = ManualClock()
    d = Dispatcher(clock, random.Random(7))
    strategies = [s for s in Strategy]
    members: dict[int, list[Member]] = {q: [] for q in range(QUEUES)}
    for a in range(AGENTS):
        agent_id = f"a{a:04d}"
        d.add_agent(agent_id)
        for q in rng.sample(range(QUEUES), 3):
            # A member of a skilled queue has its skill (at some level) and one more.
            skills = {s: rng.randint(1, 10) for s in (SKILLS[q % len(SKILLS)], rng.choice(SKILLS))}
            members[q].append(Member(agent_id, penalty=rng.randint(0, 3), skills=skills))
    for q in range(QUEUES):
        skilled = q % 2 == 0
        config = QueueConfig(
            queue_id=f"q{q:02d}",
            strategy=strategies[q % len(strategies)],
            skills=frozenset({SKILLS[q % len(SKILLS)]}) if skilled else frozenset(),
            tiers=(Tier(0.0, 5), Tier(30.0, 1)) if skilled else (Tier(0.0, 1),),
        )
        d.add_queue(Queue(config, members[q]))
    for agent in d.agents.values():
        agent.login()
    return d, clock


def _percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def run(decisions: int, seed: int) -> dict[str, float]:
    """Load the dispatcher and time `decisions` routing decisions; return the figures (µs)."""
    rng = random.Random(seed)
    d, clock = build(rng)
    seq = 0

    def join() -> float:
        nonlocal seq
        seq += 1
        q = f"q{rng.randrange(QUEUES):02d}"
        t0 = time.thread_time_ns()
        d.join(q, f"c{seq}", f"+9725{seq:07d}", priority=rng.choice((0, 0, 0, 1)))
        return (time.thread_time_ns() - t0) / 1000

    def answer_offers() -> int:
        out = d.step()
        for offer in out.offers:
            d.answered(offer.call_id, offer.agent_ids[0])
        return len(out.offers)

    # Occupy the agents (ring-all queues offer to several at once, so loop) until a round
    # offers nothing: agents left free are those no caller's skills can use.
    for _ in range(100):
        for _ in range(200):
            join()
        clock.advance(31.0)  # past the widening tier
        if answer_offers() == 0:
            break
    # Callers nobody could take yet stay waiting; top up to the bench's backlog.
    while sum(len(q.waiting) for q in d.queues.values()) < WAITING:
        join()
    free_at_start = sum(1 for a in d.agents.values() if a.is_available())
    join_us = [join() for _ in range(200)]
    idle_step_us = []
    for _ in range(200):
        t0 = time.thread_time_ns()
        d.step()
        idle_step_us.append((time.thread_time_ns() - t0) / 1000)
    decision_us: list[float] = []
    offered = 0
    for _ in range(decisions):
        clock.advance(rng.uniform(0.01, 0.5))
        talking = d.answered_calls()
        call_id = rng.choice(list(talking))
        d.hangup(call_id)
        t0 = time.thread_time_ns()
        out = d.step()
        decision_us.append((time.thread_time_ns() - t0) / 1000)
        for offer in out.offers:
            d.answered(offer.call_id, offer.agent_ids[0])
            offered += 1
        while sum(len(q.waiting) for q in d.queues.values()) < WAITING:
            join()
    return {
        "decisions": float(decisions),
        "offers": float(offered),
        "decision_p50_us": statistics.median(decision_us),
        "decision_p99_us": _percentile(decision_us, 0.99),
        "join_p50_us": statistics.median(join_us),
        "join_p99_us": _percentile(join_us, 0.99),
        "idle_step_p50_us": statistics.median(idle_step_us),
        "idle_step_p99_us": _percentile(idle_step_us, 0.99),
        "agents_free_at_start": float(free_at_start),
        "waiting": float(sum(len(q.waiting) for q in d.queues.values())),
    }


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    figures = run(max(1, min(args.decisions, 100_000)), args.seed)
    for name, value in figures.items():
        print(f"{name:>18}: {value:,.1f}")


if __name__ == "__main__":
    main()
