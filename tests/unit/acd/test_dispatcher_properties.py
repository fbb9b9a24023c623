"""Properties of the dispatcher under random traffic: one call per agent, busy agents never offered,
service order respected, work conserving, callbacks never duplicated."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.acd.agent import AgentState
from appliance.acd.callback import CallbackState, DuplicateCallback
from appliance.acd.dispatcher import Dispatcher
from appliance.acd.events import AgentReserved, CallbackRequested
from appliance.acd.kpi import KpiBoard
from appliance.acd.queue import Member, Queue, QueueConfig, Strategy, Tier
from appliance.domain.clock import ManualClock

AGENTS = ["a0", "a1", "a2", "a3"]
NUMBERS = ["0600111", "0600222", "0600333"]

ops = st.one_of(
    st.tuples(st.just("join"), st.integers(0, 1), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("step")),
    st.tuples(st.just("advance"), st.sampled_from([0.5, 3, 11, 31])),
    st.tuples(st.just("answer"), st.integers(0, 5)),
    st.tuples(st.just("no_answer"), st.integers(0, 5)),
    st.tuples(st.just("abandon"), st.integers(0, 5)),
    st.tuples(st.just("hangup"), st.integers(0, 5)),
    st.tuples(st.sampled_from(["pause", "unpause", "login", "logout", "ready"]), st.integers(0, 3)),
    st.tuples(st.just("callback"), st.integers(0, 5), st.integers(0, 2)),
    st.tuples(st.sampled_from(["cust_ok", "cust_fail"]), st.integers(0, 5)),
)


def make(
    clock: ManualClock, strategy: Strategy, seed: int, membership: list[tuple[bool, bool]], levels: list[int]
) -> Dispatcher:
    d = Dispatcher(clock, random.Random(seed))
    for a in AGENTS:
        d.add_agent(a, max_misses=2)
    for qi, qid in enumerate(("q0", "q1")):
        cfg = QueueConfig(
            qid,
            strategy=strategy,
            wrap_up_s=5 * qi,
            max_wait_s=60,
            tiers=(Tier(0, 6), Tier(30, 1)),
            max_len=6,
        )
        members = [
            Member(a, penalty=i % 2, skills={"de": levels[i]})
            for i, a in enumerate(AGENTS)
            if membership[i][qi]
        ]
        d.add_queue(Queue(cfg, members))
    return d


def pick(items: list[Any], k: int) -> Any | None:
    return items[k % len(items)] if items else None


def waiting(d: Dispatcher) -> list[tuple[Queue, Any]]:
    return [(q, c) for q in d.queues.values() for c in q.waiting]


def check_invariants(d: Dispatcher) -> None:
    holders: dict[str, list[str]] = {}
    for _, c in waiting(d):
        for a in c.offered_to:
            holders.setdefault(a, []).append(c.call_id)
            agent = d.agent(a)
            assert agent.state is AgentState.RESERVED and agent.call_id == c.call_id
    for a, agent in d.agents.items():
        if agent.state is AgentState.RESERVED:
            assert holders.get(a) == [agent.call_id], f"{a} rings for {holders.get(a)}"
        else:
            assert a not in holders
    on_call = [ag.call_id for ag in d.agents.values() if ag.state is AgentState.ON_CALL]
    assert len(on_call) == len(set(on_call)), "two agents on one call"
    numbers = [(cb.number, cb.queue_id) for cb in d.callbacks.active()]
    assert len(numbers) == len(set(numbers)), "duplicate callback"


def _record_events(d: Dispatcher, board: KpiBoard) -> None:
    """Feed every event the dispatcher and its agents emit into the board, as the controller would."""
    for name in (
        "join", "step", "answered", "no_answer", "abandon", "hangup", "request_callback",
        "customer_answered", "customer_failed", "cancel_callback",
    ):  # fmt: skip
        command = getattr(d, name)

        def recorded(*args: Any, _command: Any = command, **kwargs: Any) -> Any:
            out = _command(*args, **kwargs)
            board.apply_all(out.events)
            return out

        setattr(d, name, recorded)
    for agent in d.agents.values():
        for name in ("login", "logout", "pause", "unpause", "ready"):
            command = getattr(agent, name)

            def recorded_agent(*args: Any, _command: Any = command, **kwargs: Any) -> Any:
                events = _command(*args, **kwargs)
                board.apply_all(events)
                return events

            setattr(agent, name, recorded_agent)


def check_board(d: Dispatcher, board: KpiBoard, now: float) -> None:
    """The live KPIs folded from the events agree with the dispatcher's own state."""
    for qid in d.queues:
        k = board.snapshot(qid, now)
        real = [c for c in d.queue(qid).waiting if not c.callback]
        assert k.waiting == len(real)
        assert k.longest_wait_s == max((now - c.joined_at for c in real), default=0.0)
        assert k.callbacks_waiting == sum(1 for cb in d.callbacks.active() if cb.queue_id == qid)
    seen = board.agents_by_state(d.agents)
    real_states: dict[str, int] = {}
    for agent in d.agents.values():
        real_states[agent.state.value] = real_states.get(agent.state.value, 0) + 1
    assert seen == real_states


def check_step(d: Dispatcher, now: float, before: dict[str, AgentState], out: Any) -> None:
    for ev in out.events:
        if isinstance(ev, AgentReserved):
            assert before[ev.agent_id] is AgentState.AVAILABLE or ev.old == "available"
    offered_agents = {a: (o.queue_id, o.call_id) for o in out.offers for a in o.agent_ids}
    for o in out.offers:
        q = d.queue(o.queue_id)
        caller = q.find(o.call_id)
        assert caller is not None
        for a in o.agent_ids:
            assert before[a] in (AgentState.AVAILABLE, AgentState.WRAP_UP), f"{a} was {before[a]}"
            assert q.eligible(caller, q.members[a], now), f"{a} lacks the skill level {o.call_id} needs"
    order = sorted(waiting(d), key=lambda qc: (-qc[1].priority, qc[1].joined_at, qc[1].seq))
    rank = {c.call_id: i for i, (_, c) in enumerate(order)}
    for q, y in waiting(d):
        if y.offered_to or y.not_before > now:
            continue
        # Work conserving: nobody free could have taken this caller.
        for a, m in q.members.items():
            assert not (d.agent(a).is_available() and q.eligible(y, m, now)), (
                f"{a} idle while {y.call_id} waits"
            )
        # Service order: no caller behind y was given an agent y could have had.
        for a, (qid, call) in offered_agents.items():
            if qid == q.queue_id and a in q.members and call in rank and rank[call] > rank[y.call_id]:
                assert not q.eligible(y, q.members[a], now), f"{call} took {a} ahead of {y.call_id}"


@settings(max_examples=150, deadline=None)
@given(
    strategy=st.sampled_from(list(Strategy)),
    seed=st.integers(0, 1000),
    membership=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=4, max_size=4),
    levels=st.lists(st.integers(1, 10), min_size=4, max_size=4),
    script=st.lists(ops, min_size=20, max_size=80),
)
def test_random_traffic_keeps_every_invariant(
    strategy: Strategy, seed: int, membership: list[tuple[bool, bool]], levels: list[int], script: list[tuple]
) -> None:
    clock = ManualClock()
    d = make(clock, strategy, seed, membership, levels)
    board = KpiBoard()
    _record_events(d, board)
    for a in AGENTS:
        d.agent(a).login()
    n = 0
    for op in script:
        kind = op[0]
        if kind == "join":
            n += 1
            d.join(f"q{op[1]}", f"c{n}", "1", priority=op[2], skills={"de"} if op[3] else ())
        elif kind == "step":
            before = {a: ag.state for a, ag in d.agents.items()}
            check_step(d, clock.monotonic(), before, d.step())
        elif kind == "advance":
            clock.advance(op[1])
        elif kind in ("answer", "no_answer"):
            ringing = [(c.call_id, a) for _, c in waiting(d) for a in c.offered_to]
            choice = pick(ringing, op[1])
            if choice:
                getattr(d, "answered" if kind == "answer" else "no_answer")(*choice)
        elif kind == "abandon":
            choice = pick([c.call_id for _, c in waiting(d) if not c.callback], op[1])
            if choice:
                d.abandon(choice)
        elif kind == "hangup":
            choice = pick(sorted(d.answered_calls()), op[1])
            cb = d.callbacks.get(choice) if choice else None
            if choice and (cb is None or cb.state is not CallbackState.DIALING):
                d.hangup(choice)
        elif kind == "callback":
            choice = pick([c.call_id for _, c in waiting(d) if not c.callback], op[1])
            if choice:
                active_before = len(d.callbacks.active())
                try:
                    out = d.request_callback(choice, NUMBERS[op[2]])
                    assert any(isinstance(e, CallbackRequested) for e in out.events)
                except DuplicateCallback:
                    assert len(d.callbacks.active()) == active_before
        elif kind in ("cust_ok", "cust_fail"):
            dialing = [cb.call_id for cb in d.callbacks.active() if cb.state is CallbackState.DIALING]
            choice = pick(dialing, op[1])
            if choice:
                (d.customer_answered if kind == "cust_ok" else d.customer_failed)(choice)
        else:
            agent = d.agent(AGENTS[op[1]])
            state = agent.state
            if kind == "pause" and state is not AgentState.LOGGED_OUT:
                agent.pause("x")
            elif kind == "unpause" and (state is AgentState.PAUSED or agent.pending_pause):
                agent.unpause()
            elif kind == "login" and state is AgentState.LOGGED_OUT:
                agent.login()
            elif kind == "logout" and state is not AgentState.LOGGED_OUT:
                agent.logout()
            elif kind == "ready" and state is AgentState.WRAP_UP:
                agent.ready()
        check_invariants(d)
        check_board(d, board, clock.monotonic())
