"""The dispatcher: queues, waiting callers and agents in; offers, redirects and events out."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from appliance.acd.agent import Agent, AgentState
from appliance.acd.callback import Callback, CallbackBook, CallbackRecord, CallbackState
from appliance.acd.events import (
    CallAbandoned,
    CallAnswered,
    CallbackFinished,
    CallbackRequested,
    CallbackRetry,
    CallEnded,
    CallerJoined,
    CallOverflowed,
    CallTransferred,
)
from appliance.acd.outcome import Dial, Outcome, Redirect
from appliance.acd.queue import Caller, EmptyRule, Queue, is_empty
from appliance.acd.routing import expire, make_offers, round_robin_memory
from appliance.domain.clock import Clock
from appliance.domain.errors import DomainError


class QueueBusy(DomainError):
    """A queue with callers in it cannot be removed."""


@dataclass
class _Talk:
    queue_id: str
    agent_id: str
    answered_at: float


class Dispatcher:
    """The ACD: one owner for agents, queues and callbacks; deterministic for a given clock and RNG."""

    def __init__(self, clock: Clock, rng: random.Random, callbacks: CallbackBook | None = None) -> None:
        self._clock = clock
        self._rng = rng
        self.agents: dict[str, Agent] = {}
        self.queues: dict[str, Queue] = {}
        self.callbacks = callbacks or CallbackBook()
        self._where: dict[str, str] = {}  # call_id -> queue_id while waiting or ringing
        self._talking: dict[str, _Talk] = {}  # answered calls
        self._held: dict[str, Caller] = {}  # callback places kept while the customer is dialled
        self._seq = 0
        # Indexes kept by the agents' on_change hook, so a step costs what is free, not staff size.
        self._rank: dict[str, int] = {}
        self._available: set[str] = set()
        self._wrapping: set[str] = set()

    # ---------------------------------------------------------------- set-up

    def add_agent(self, agent_id: str, *, max_misses: int = 3) -> Agent:
        """Create an agent (logged out)."""
        if agent_id in self.agents:
            raise DomainError(f"agent {agent_id} exists already")
        agent = Agent(agent_id, self._clock, max_misses=max_misses)
        self.agents[agent_id] = agent
        self._rank[agent_id] = len(self._rank)
        agent.on_change = self._index
        return agent

    def set_max_misses(self, agent_id: str, max_misses: int) -> None:
        """Change how many ring-no-answers in a row auto-pause an agent (counted from their next miss)."""
        agent = self.agent(agent_id)
        if max_misses < 1:
            raise DomainError(f"agent {agent_id}: max_misses must be at least 1, got {max_misses}")
        agent.max_misses = max_misses

    def _index(self, agent: Agent) -> None:
        for index, state in ((self._available, AgentState.AVAILABLE), (self._wrapping, AgentState.WRAP_UP)):
            if agent.state is state:
                index.add(agent.agent_id)
            else:
                index.discard(agent.agent_id)

    def add_queue(self, queue: Queue) -> None:
        """Add a queue; its members must be known agents."""
        if queue.queue_id in self.queues:
            raise DomainError(f"queue {queue.queue_id} exists already")
        unknown = [a for a in queue.members if a not in self.agents]
        if unknown:
            raise DomainError(f"queue {queue.queue_id}: unknown agents {unknown}")
        self.queues[queue.queue_id] = queue

    def replace_queue(self, queue: Queue) -> None:
        """Swap a queue's configuration and members; its waiting callers keep their places.

        Callers who joined with the queue's default skills take the new default; callers whose
        skills an IVR set keep them. Round-robin memory and handle-time history carry over.
        """
        old = self.queue(queue.queue_id)
        unknown = [a for a in queue.members if a not in self.agents]
        if unknown:
            raise DomainError(f"queue {queue.queue_id}: unknown agents {unknown}")
        for caller in old.waiting:
            if caller.skills == old.config.skills:
                caller.skills = queue.config.skills
        queue.waiting = old.waiting
        queue.last_offered = round_robin_memory(old, queue)
        queue.recent_handle_s = old.recent_handle_s
        self.queues[queue.queue_id] = queue

    def remove_queue(self, queue_id: str) -> None:
        """Remove an idle queue; refused (nothing changes) while a caller, callback or call is in it."""
        q = self.queue(queue_id)
        busy = {c.call_id for c in q.waiting}
        busy |= {call_id for call_id, t in self._talking.items() if t.queue_id == queue_id}
        busy |= {cb.call_id for cb in self.callbacks.active() if cb.queue_id == queue_id}
        if busy:
            raise QueueBusy(f"queue {queue_id} has {len(busy)} calls waiting, connected or to call back")
        del self.queues[queue_id]

    def queue(self, queue_id: str) -> Queue:
        """The queue with this id."""
        try:
            return self.queues[queue_id]
        except KeyError:
            raise DomainError(f"unknown queue {queue_id!r}") from None

    def agent(self, agent_id: str) -> Agent:
        """The agent with this id."""
        try:
            return self.agents[agent_id]
        except KeyError:
            raise DomainError(f"unknown agent {agent_id!r}") from None

    # ---------------------------------------------------------------- callers

    def join(
        self,
        queue_id: str,
        call_id: str,
        number: str,
        *,
        priority: int = 0,
        skills: Iterable[str] | None = None,
    ) -> Outcome:
        """A caller enters a queue: joined in order, or redirected when full or empty."""
        q = self.queue(queue_id)
        if call_id in self._where or call_id in self._talking:
            raise DomainError(f"call {call_id} is already in the ACD")
        now = self._clock.monotonic()
        out = Outcome()
        cfg = q.config
        reason, dest = "", cfg.on_full
        if cfg.max_len is not None and len(q.waiting) >= cfg.max_len:
            reason, dest = "full", cfg.on_full
        elif is_empty(cfg.join_empty, q.members, self.agents):
            reason, dest = "join_empty", cfg.on_empty
        if reason:
            out.events.append(
                CallOverflowed(
                    queue_id=queue_id, call_id=call_id, at=now, reason=reason, wait_s=0.0, destination=dest
                )
            )
            out.redirects.append(Redirect(call_id, dest, reason))
            return out
        self._seq += 1
        need = cfg.skills if skills is None else frozenset(skills)
        caller = Caller(
            call_id, number, joined_at=now, seq=self._seq, priority=priority, skills=frozenset(need)
        )
        position = q.insert(caller)
        self._where[call_id] = queue_id
        out.events.append(
            CallerJoined(
                queue_id=queue_id,
                call_id=call_id,
                at=now,
                number=number,
                priority=priority,
                position=position,
                skills=tuple(sorted(caller.skills)),
            )
        )
        return out

    def _waiting(self, call_id: str) -> tuple[Queue, Caller]:
        queue_id = self._where.get(call_id)
        caller = None if queue_id is None else self.queues[queue_id].find(call_id)
        if queue_id is None or caller is None:
            raise DomainError(f"call {call_id} is not waiting in any queue")
        return self.queues[queue_id], caller

    def _release_offer(self, caller: Caller, out: Outcome, keep: str = "") -> None:
        for agent_id in caller.offered_to:
            if agent_id != keep:
                out.events += self.agents[agent_id].release(caller.call_id)
        caller.offered_to = ()

    def abandon(self, call_id: str) -> Outcome:
        """The caller hung up while waiting (ringing agents are released without a miss)."""
        q, caller = self._waiting(call_id)
        if caller.callback:
            raise DomainError(f"call {call_id} is a callback; cancel it instead")
        now = self._clock.monotonic()
        out = Outcome()
        position = q.position(call_id)
        self._release_offer(caller, out)
        q.remove(call_id)
        del self._where[call_id]
        out.events.append(
            CallAbandoned(
                queue_id=q.queue_id, call_id=call_id, at=now, wait_s=caller.waited(now), position=position
            )
        )
        return out

    def answered(self, call_id: str, agent_id: str) -> Outcome:
        """An agent answered an offer: the other ringing agents are released."""
        q, caller = self._waiting(call_id)
        if agent_id not in caller.offered_to:
            raise DomainError(f"call {call_id} was not offered to agent {agent_id}")
        now = self._clock.monotonic()
        out = Outcome()
        out.events += self.agents[agent_id].answer(call_id)
        self._release_offer(caller, out, keep=agent_id)
        q.remove(call_id)
        del self._where[call_id]
        self._talking[call_id] = _Talk(q.queue_id, agent_id, now)
        cb = self.callbacks.get(call_id)
        if cb is not None:
            cb.move(CallbackState.DIALING)
            cb.attempts += 1
            self._held[call_id] = caller
            out.dials.append(Dial(call_id, cb.number, agent_id))
        else:
            out.events.append(
                CallAnswered(
                    queue_id=q.queue_id, call_id=call_id, at=now, agent_id=agent_id, wait_s=caller.waited(now)
                )
            )
        return out

    def no_answer(self, call_id: str, agent_id: str) -> Outcome:
        """An offered agent let it ring out: a miss for them; the caller keeps their place."""
        _, caller = self._waiting(call_id)
        if agent_id not in caller.offered_to:
            raise DomainError(f"call {call_id} was not offered to agent {agent_id}")
        out = Outcome()
        out.events += self.agents[agent_id].ring_no_answer(call_id)
        caller.offered_to = tuple(a for a in caller.offered_to if a != agent_id)
        cb = self.callbacks.get(call_id)
        if cb is not None and not caller.offered_to:
            cb.move(CallbackState.QUEUED)
        return out

    def withdraw(self, call_id: str, agent_id: str) -> Outcome:
        """An offered agent was never rung (no room for one more leg): released, no miss counted."""
        _, caller = self._waiting(call_id)
        if agent_id not in caller.offered_to:
            raise DomainError(f"call {call_id} was not offered to agent {agent_id}")
        out = Outcome()
        out.events += self.agents[agent_id].release(call_id)
        caller.offered_to = tuple(a for a in caller.offered_to if a != agent_id)
        return out

    def hangup(self, call_id: str, *, transfer_to: str = "") -> Outcome:
        """An answered call ended (or the agent transferred it away): wrap-up starts."""
        talk = self._talking.pop(call_id, None)
        if talk is None:
            raise DomainError(f"call {call_id} is not an answered queue call")
        now = self._clock.monotonic()
        q = self.queues[talk.queue_id]
        wrap = q.config.wrap_up_s
        out = Outcome()
        cb = self.callbacks.get(call_id)
        if cb is not None and cb.state is CallbackState.DIALING:
            self.callbacks.close(cb, CallbackState.CANCELLED)
            out.events.append(self._cb_finished(cb, now))
        if transfer_to:
            out.events.append(
                CallTransferred(
                    queue_id=q.queue_id, call_id=call_id, at=now, agent_id=talk.agent_id, target=transfer_to
                )
            )
        out.events += self.agents[talk.agent_id].end_call(call_id, wrap)
        talk_s = now - talk.answered_at
        q.record_handle_time(talk_s + wrap)
        out.events.append(
            CallEnded(
                queue_id=q.queue_id,
                call_id=call_id,
                at=now,
                agent_id=talk.agent_id,
                talk_s=talk_s,
                wrap_up_s=wrap,
            )
        )
        return out

    # ---------------------------------------------------------------- callbacks

    def request_callback(self, call_id: str, number: str) -> Outcome:
        """The waiting caller asks to be called back: a callback takes over their place in the queue."""
        q, caller = self._waiting(call_id)
        if caller.callback:
            raise DomainError(f"call {call_id} is already a callback")
        now = self._clock.monotonic()
        cb = self.callbacks.open(call_id, q.queue_id, number, now)  # raises DuplicateCallback
        out = Outcome()
        self._release_offer(caller, out)
        caller.callback = True
        caller.number = cb.number
        out.events.append(
            CallbackRequested(
                queue_id=q.queue_id, call_id=call_id, at=now, number=cb.number, wait_s=caller.waited(now)
            )
        )
        return out

    def customer_answered(self, call_id: str) -> Outcome:
        """The callback's customer picked up: agent and customer are talking."""
        cb = self._callback(call_id, CallbackState.DIALING)
        self.callbacks.close(cb, CallbackState.CONNECTED)
        return Outcome(events=[self._cb_finished(cb, self._clock.monotonic())])

    def customer_failed(self, call_id: str) -> Outcome:
        """The callback's customer did not answer: retry later in the same place, or give up."""
        cb = self._callback(call_id, CallbackState.DIALING)
        talk = self._talking.pop(call_id)
        now = self._clock.monotonic()
        out = Outcome()
        out.events += self.agents[talk.agent_id].end_call(call_id, 0.0)  # no conversation, no wrap-up
        q = self.queues[cb.queue_id]
        policy = q.config.callback_policy or self.callbacks.policy
        if cb.attempts >= policy.max_attempts:
            self.callbacks.close(cb, CallbackState.FAILED)
            out.events.append(self._cb_finished(cb, now))
            return out
        cb.move(CallbackState.QUEUED)
        # Same seq and join time as when it was first queued: the place is kept.
        original = self._placeholder(cb)
        original.not_before = now + policy.retry_delay_s
        q.insert(original)
        self._where[call_id] = q.queue_id
        out.events.append(
            CallbackRetry(
                queue_id=q.queue_id,
                call_id=call_id,
                at=now,
                attempts=cb.attempts,
                retry_in_s=policy.retry_delay_s,
            )
        )
        return out

    def restore_callback(self, record: CallbackRecord) -> None:
        """Re-queue a callback recovered from the event log after a restart (in log order, so places hold)."""
        q = self.queue(record.queue_id)
        if record.call_id in self._where or record.call_id in self._talking:
            raise DomainError(f"call {record.call_id} is already in the ACD")
        now = self._clock.monotonic()
        cb = self.callbacks.open(record.call_id, record.queue_id, record.number, now)
        cb.attempts = record.attempts
        self._seq += 1
        caller = Caller(
            record.call_id,
            cb.number,
            joined_at=now,
            seq=self._seq,
            priority=record.priority,
            skills=frozenset(record.skills),
            callback=True,
        )
        q.insert(caller)
        self._where[record.call_id] = q.queue_id

    def cancel_callback(self, call_id: str) -> Outcome:
        """Cancel a callback still queued (the customer or a supervisor asked)."""
        cb = self.callbacks.get(call_id)
        if cb is None:
            raise DomainError(f"no callback for call {call_id}")
        if cb.state is not CallbackState.QUEUED:
            raise DomainError(f"callback {call_id} is {cb.state.value}; only a queued one can be cancelled")
        out = Outcome()
        q, caller = self._waiting(call_id)
        self._release_offer(caller, out)
        q.remove(call_id)
        del self._where[call_id]
        self.callbacks.close(cb, CallbackState.CANCELLED)
        out.events.append(self._cb_finished(cb, self._clock.monotonic()))
        return out

    def _callback(self, call_id: str, state: CallbackState) -> Callback:
        cb = self.callbacks.get(call_id)
        if cb is None or cb.state is not state:
            raise DomainError(f"call {call_id} has no callback in state {state.value}")
        return cb

    def _placeholder(self, cb: Callback) -> Caller:
        held = self._held.pop(cb.call_id)
        held.offered_to = ()
        return held

    def _cb_finished(self, cb: Callback, now: float) -> CallbackFinished:
        self._held.pop(cb.call_id, None)
        return CallbackFinished(
            queue_id=cb.queue_id, call_id=cb.call_id, at=now, outcome=cb.state.value, attempts=cb.attempts
        )

    # ---------------------------------------------------------------- time and routing

    def step(self) -> Outcome:
        """Apply what time changed (wrap-up ends, timeouts, empty queues), then make the offers."""
        now = self._clock.monotonic()
        out = Outcome()
        for agent_id in sorted(self._wrapping, key=self._rank.__getitem__):
            out.events += self.agents[agent_id].tick()
        for q in self.queues.values():
            if q.config.max_wait_s is not None or q.config.leave_when_empty is not EmptyRule.NEVER:
                expire(q, self.agents, self._where, now, out)
        make_offers(self.queues, self.agents, self._available, self._where, self.callbacks, self._rng, now, out)
        return out

    def next_deadline(self) -> float | None:
        """The earliest monotonic time at which step() may have something new to do."""
        times: list[float] = [t for a in self.agents.values() if (t := a.next_deadline()) is not None]
        for q in self.queues.values():
            for c in q.waiting:
                if c.not_before > self._clock.monotonic():
                    times.append(c.not_before)
                if c.callback:
                    continue
                if q.config.max_wait_s is not None:
                    times.append(c.joined_at + q.config.max_wait_s)
                widen = q.config.next_widening(c.waited(self._clock.monotonic()))
                if c.skills and widen is not None:
                    times.append(c.joined_at + widen)
        return min(times) if times else None

    def answered_calls(self) -> dict[str, tuple[str, str]]:
        """Calls answered and not yet ended: call_id -> (queue_id, agent_id)."""
        return {c: (t.queue_id, t.agent_id) for c, t in self._talking.items()}

    def staffed(self, queue_id: str) -> int:
        """Members of the queue logged in and not paused (available, ringing, talking or in wrap-up)."""
        q = self.queue(queue_id)
        return sum(
            1 for a in q.members if self.agents[a].state not in (AgentState.LOGGED_OUT, AgentState.PAUSED)
        )

    def free(self, queue_id: str) -> int:
        """Members of the queue available right now."""
        q = self.queue(queue_id)
        return sum(1 for a in q.members if self.agents[a].state is AgentState.AVAILABLE)
