"""The supervisor wallboard: per-queue figures and agents by state, read from the live ACD.

Nothing is stored: every snapshot is derived from the queue service's KPI board and its
agents. The stream waits on the ACD's change counter (`QueueService.changes`), so a snapshot
goes out as soon as an event is applied, and otherwise once a second for the clocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from appliance.controller.supervision import service_of

if TYPE_CHECKING:
    from appliance.controller.changes import Changes
    from appliance.controller.queues import QueueService

TICK_S = 1.0  # a snapshot at least this often, for the clocks


@dataclass(frozen=True)
class QueueLine:
    """One queue on the wallboard."""

    number: str
    name: str
    waiting: int
    longest_wait_s: float
    entered: int
    answered: int
    abandoned: int
    service_level: float | None
    asa_s: float | None
    abandon_rate: float | None
    agents_by_state: dict[str, int]


@dataclass(frozen=True)
class AgentLine:
    """One agent on the wallboard."""

    agent: str
    state: str
    reason: str
    time_in_state_s: float
    queues: list[str]


@dataclass(frozen=True)
class CallLine:
    """One live queue call: waiting, ringing an agent, or talking (what supervision hangs on)."""

    call_id: str
    caller: str
    queue: str
    state: str  # waiting | ringing | talking
    agent: str | None  # the agent talking, or the agents ringing joined by ", "
    seconds: float  # waiting: time in queue; talking: time since the agent answered
    supervision: dict[str, str] | None  # supervisor_extension, mode, state while supervised


@dataclass(frozen=True)
class Wallboard:
    """The whole board at one moment."""

    queues: list[QueueLine]
    agents: list[AgentLine]
    calls: list[CallLine] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def events_key(self) -> tuple[Any, ...]:
        """What only an ACD event changes (clocks left out)."""
        return (
            tuple((q.number, q.waiting, q.entered, q.answered, q.abandoned, q.service_level, q.asa_s)
                  for q in self.queues),
            tuple((a.agent, a.state, a.reason) for a in self.agents),
            tuple((c.call_id, c.state, c.agent, tuple(sorted((c.supervision or {}).items())))
                  for c in self.calls),
        )


def changed(old: Wallboard | None, new: Wallboard) -> bool:
    """True when an ACD event happened between the two snapshots."""
    return old is None or old.events_key() != new.events_key()


def wallboard(queues: QueueService) -> Wallboard:
    """The board now, from the live ACD (KPIs count since the controller started)."""
    kpis = queues.kpis()
    agents = queues.dispatcher.agents
    member_of: dict[str, list[str]] = {}
    for number, row in sorted(queues.rows.items()):
        for m in row.members:
            member_of.setdefault(m, []).append(number)
    lines = []
    for number, row in sorted(queues.rows.items()):
        k = kpis[number]
        by_state: dict[str, int] = {}
        for m in row.members:
            agent = agents.get(m)
            state = agent.state.value if agent else "logged_out"
            by_state[state] = by_state.get(state, 0) + 1
        lines.append(QueueLine(
            number=number, name=row.name, waiting=k.waiting, longest_wait_s=round(k.longest_wait_s, 1),
            entered=k.entered, answered=k.answered, abandoned=k.abandoned, service_level=k.service_level,
            asa_s=None if k.asa_s is None else round(k.asa_s, 1), abandon_rate=k.abandon_rate,
            agents_by_state=by_state,
        ))
    people = [
        AgentLine(agent=agent_id, state=a.state.value, reason=a.pause_reason,
                  time_in_state_s=round(a.time_in_state(), 1), queues=member_of.get(agent_id, []))
        for agent_id, a in sorted(agents.items())
    ]
    return Wallboard(lines, people, live_calls(queues))


def _supervisions(queues: QueueService) -> dict[str, dict[str, str]]:
    try:
        service = service_of(queues.manager)
    except KeyError:  # a controller built without call features
        return {}
    return {s.call_id: s.public() for s in service.list()}


def live_calls(queues: QueueService) -> list[CallLine]:
    """Queue calls now: callers waiting (or ringing an agent) in queue order, then calls being talked."""
    d = queues.dispatcher
    now = queues.clock.monotonic()
    supervised = _supervisions(queues)
    sessions = queues.manager.sessions
    out: list[CallLine] = []
    for number in sorted(d.queues):
        for c in d.queues[number].waiting:
            if c.callback:
                continue
            ringing = bool(c.offered_to)
            out.append(CallLine(
                call_id=c.call_id, caller=c.number, queue=number, state="ringing" if ringing else "waiting",
                agent=", ".join(c.offered_to) if ringing else None, seconds=round(c.waited(now), 1),
                supervision=None,
            ))
    for call_id, (number, agent_id) in sorted(d.answered_calls().items(), key=lambda kv: (kv[1], kv[0])):
        session = sessions.get(call_id)
        agent = d.agents.get(agent_id)
        out.append(CallLine(
            call_id=call_id, caller=session.caller if session else "", queue=number, state="talking",
            agent=agent_id, seconds=round(agent.time_in_state(), 1) if agent else 0.0,
            supervision=supervised.get(call_id),
        ))
    return out


async def stream(read: Callable[[], Wallboard], changes: Changes, *,
                 tick_s: float = TICK_S) -> AsyncGenerator[Wallboard, None]:
    """Snapshots: the first at once, then as soon as the ACD marks a change, and every `tick_s` for the clocks."""
    loop = asyncio.get_running_loop()
    last: Wallboard | None = None
    sent_at = 0.0
    seen = -1
    while True:
        count = changes.count  # taken before the read, so a change during it is not missed
        board = read()
        now = loop.time()
        if count != seen or changed(last, board) or now - sent_at >= tick_s:
            last, sent_at, seen = board, now, count
            yield board
        await changes.wait_past(seen, max(0.0, sent_at + tick_s - loop.time()))
