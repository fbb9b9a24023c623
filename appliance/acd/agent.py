"""The agent: one state machine across all the agent's queues, driving routing and reporting."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TypedDict

from appliance.acd.events import (
    AgentAnswered,
    AgentCallEnded,
    AgentEvent,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentReleased,
    AgentReserved,
    AgentRingNoAnswer,
    AgentUnpaused,
    AgentWrapUpEnded,
)
from appliance.domain.clock import Clock
from appliance.domain.errors import DomainError, IllegalTransition

AUTO_PAUSE_REASON = "no-answer"  # the reason code ring-no-answer auto-pause uses


class AgentState(Enum):
    """Where an agent is; one value for all the agent's queues."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RESERVED = "reserved"  # the agent's phone rings with a queue call
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


_S = AgentState
_ALLOWED: dict[AgentState, frozenset[AgentState]] = {
    _S.LOGGED_OUT: frozenset({_S.AVAILABLE, _S.PAUSED}),
    _S.AVAILABLE: frozenset({_S.RESERVED, _S.ON_CALL, _S.PAUSED, _S.LOGGED_OUT}),
    _S.RESERVED: frozenset({_S.ON_CALL, _S.AVAILABLE, _S.PAUSED, _S.LOGGED_OUT}),
    _S.ON_CALL: frozenset({_S.WRAP_UP, _S.AVAILABLE, _S.PAUSED, _S.LOGGED_OUT}),
    _S.WRAP_UP: frozenset({_S.AVAILABLE, _S.PAUSED, _S.LOGGED_OUT}),
    _S.PAUSED: frozenset({_S.AVAILABLE, _S.PAUSED, _S.LOGGED_OUT}),
}

# States in which an agent counts as staffing a queue (working it, even if busy right now).
STAFFED = frozenset({_S.AVAILABLE, _S.RESERVED, _S.ON_CALL, _S.WRAP_UP})


def transition(old: AgentState, new: AgentState) -> AgentState:
    """Return `new` if the table allows old -> new, else raise IllegalTransition."""
    if new not in _ALLOWED[old]:
        raise IllegalTransition("agent", old, new)
    return new


class _Change(TypedDict):
    agent_id: str
    at: float
    old: str
    new: str


class Agent:
    """One agent: state, the call they hold, misses, wrap-up deadline and routing statistics."""

    def __init__(self, agent_id: str, clock: Clock, *, max_misses: int = 3) -> None:
        if max_misses < 1:
            raise DomainError(f"agent {agent_id}: max_misses must be at least 1, got {max_misses}")
        self.agent_id = agent_id
        self._clock = clock
        self.max_misses = max_misses
        self.state = AgentState.LOGGED_OUT
        self.since = clock.monotonic()
        self.pause_reason = ""
        self.call_id = ""  # the call the agent is reserved for or talking on
        self.queue_id = ""  # that call's queue ("" for a direct call)
        self.misses = 0  # consecutive ring-no-answers
        self.wrap_until: float | None = None
        self.answered_at = 0.0
        self.last_call_end: float | None = None
        # Told after every state change (the dispatcher keeps its free/wrap-up indexes with it).
        self.on_change: Callable[[Agent], None] | None = None
        self.logged_in_at: float | None = None
        self.calls_by_queue: dict[str, int] = {}
        # A pause or log-out asked for while the phone rings or a call is up, applied after it.
        self.pending_pause: str | None = None
        self.pending_logout = False

    def __repr__(self) -> str:
        return f"Agent({self.agent_id!r}, {self.state.value})"

    # ---------------------------------------------------------------- derived status

    def time_in_state(self) -> float:
        """Seconds the agent has been in the current state."""
        return self._clock.monotonic() - self.since

    def is_available(self) -> bool:
        """True when the ACD may offer this agent a call."""
        return self.state is AgentState.AVAILABLE

    def idle_since(self) -> float:
        """When the agent last finished a call (or logged in): the key of longest-idle routing."""
        if self.last_call_end is not None:
            return self.last_call_end
        return self.logged_in_at if self.logged_in_at is not None else self.since

    def next_deadline(self) -> float | None:
        """The monotonic time at which tick() has work to do, if any."""
        return self.wrap_until if self.state is AgentState.WRAP_UP else None

    # ---------------------------------------------------------------- the one transition function

    def _set(self, new: AgentState) -> _Change:
        """The one transition function: check the table, stamp the time, clear what the state ends."""
        old = self.state
        self.state = transition(old, new)
        now = self._clock.monotonic()
        self.since = now
        if new is not AgentState.WRAP_UP:
            self.wrap_until = None
        if new not in (AgentState.RESERVED, AgentState.ON_CALL):
            self.call_id = ""
            self.queue_id = ""
        if new is not AgentState.PAUSED:
            self.pause_reason = ""
        if self.on_change is not None:
            self.on_change(self)
        return {"agent_id": self.agent_id, "at": now, "old": old.value, "new": new.value}

    def _become_free(self) -> list[AgentEvent]:
        """Leave a call or an offer: apply a pending log-out or pause, if any."""
        if self.pending_logout:
            self.pending_logout = False
            self.pending_pause = None
            return [AgentLoggedOut(**self._set(_S.LOGGED_OUT))]
        if self.pending_pause is not None:
            reason, self.pending_pause = self.pending_pause, None
            return self._pause_now(reason, auto=False)
        return []

    def _pause_now(self, reason: str, *, auto: bool) -> list[AgentEvent]:
        event = AgentPaused(**self._set(_S.PAUSED), reason=reason, auto=auto)
        self.pause_reason = reason
        return [event]

    # ---------------------------------------------------------------- commands

    def login(self, *, paused_reason: str | None = None) -> list[AgentEvent]:
        """Log in, available (or paused with a reason, for agents who log in before their shift)."""
        if self.state is not AgentState.LOGGED_OUT:
            raise IllegalTransition("agent", self.state, AgentState.AVAILABLE)
        reason = None if paused_reason is None else _check_reason(paused_reason)
        self.misses = 0
        self.logged_in_at = self._clock.monotonic()
        events: list[AgentEvent] = [AgentLoggedIn(**self._set(_S.AVAILABLE))]
        if reason is not None:
            events += self._pause_now(reason, auto=False)
        return events

    def logout(self) -> list[AgentEvent]:
        """Log out now, or right after the call or offer in progress."""
        if self.state in (AgentState.RESERVED, AgentState.ON_CALL):
            self.pending_logout = True
            return []
        return [AgentLoggedOut(**self._set(_S.LOGGED_OUT))]

    def pause(self, reason: str) -> list[AgentEvent]:
        """Pause with a reason code now, or right after the call or offer in progress."""
        reason = _check_reason(reason)
        if self.state in (AgentState.RESERVED, AgentState.ON_CALL):
            self.pending_pause = reason
            return []
        if self.state is AgentState.LOGGED_OUT:
            raise IllegalTransition("agent", self.state, AgentState.PAUSED)
        return self._pause_now(reason, auto=False)

    def unpause(self) -> list[AgentEvent]:
        """Back to available after a pause; clears the miss count."""
        if self.state is not AgentState.PAUSED:
            if self.pending_pause is not None:  # changed their mind before the call ended
                self.pending_pause = None
                return []
            raise IllegalTransition("agent", self.state, AgentState.AVAILABLE)
        self.misses = 0
        return [AgentUnpaused(**self._set(_S.AVAILABLE))]

    def reserve(self, call_id: str, queue_id: str) -> list[AgentEvent]:
        """Ring the agent with a queue call; only an available agent can be reserved."""
        if self.state is not AgentState.AVAILABLE:
            raise IllegalTransition("agent", self.state, AgentState.RESERVED)
        event = AgentReserved(**self._set(_S.RESERVED), call_id=call_id, queue_id=queue_id)
        self.call_id, self.queue_id = call_id, queue_id
        return [event]

    def _check_call(self, call_id: str, expected: AgentState) -> None:
        if self.state is not expected:
            raise DomainError(f"agent {self.agent_id} is {self.state.value}, not {expected.value}, for call {call_id}")
        if self.call_id != call_id:
            raise DomainError(f"agent {self.agent_id} holds call {self.call_id}, not {call_id}")

    def release(self, call_id: str) -> list[AgentEvent]:
        """End an offer without a miss (caller gone, or another agent answered a ring-all)."""
        self._check_call(call_id, AgentState.RESERVED)
        return self._become_free() or [AgentReleased(**self._set(_S.AVAILABLE), call_id=call_id)]

    def ring_no_answer(self, call_id: str) -> list[AgentEvent]:
        """The offer rang out: count a miss; after max_misses in a row the agent is auto-paused."""
        self._check_call(call_id, AgentState.RESERVED)
        self.misses += 1
        if self.pending_logout or self.pending_pause is not None:
            return self._become_free()
        if self.misses >= self.max_misses:
            return self._pause_now(AUTO_PAUSE_REASON, auto=True)
        return [AgentRingNoAnswer(**self._set(_S.AVAILABLE), call_id=call_id, misses=self.misses)]

    def answer(self, call_id: str) -> list[AgentEvent]:
        """The agent answered the offered call."""
        self._check_call(call_id, AgentState.RESERVED)
        queue_id = self.queue_id
        self.misses = 0
        self.calls_by_queue[queue_id] = self.calls_by_queue.get(queue_id, 0) + 1
        self.answered_at = self._clock.monotonic()
        event = AgentAnswered(**self._set(_S.ON_CALL), call_id=call_id, queue_id=queue_id)
        self.call_id, self.queue_id = call_id, queue_id
        return [event]

    def direct_call(self, call_id: str) -> list[AgentEvent]:
        """An available agent took a direct or outbound call: the ACD must not offer them meanwhile."""
        if self.state is not AgentState.AVAILABLE:
            raise IllegalTransition("agent", self.state, AgentState.ON_CALL)
        self.answered_at = self._clock.monotonic()
        event = AgentAnswered(**self._set(_S.ON_CALL), call_id=call_id, queue_id="")
        self.call_id = call_id
        return [event]

    def end_call(self, call_id: str, wrap_up_s: float) -> list[AgentEvent]:
        """The call ended: wrap-up for `wrap_up_s` seconds (the queue's), then available."""
        self._check_call(call_id, AgentState.ON_CALL)
        if wrap_up_s < 0:
            raise DomainError(f"wrap-up seconds must not be negative, got {wrap_up_s}")
        now = self._clock.monotonic()
        queue_id = self.queue_id
        self.last_call_end = now
        if wrap_up_s > 0:
            event = AgentCallEnded(**self._set(_S.WRAP_UP), call_id=call_id, queue_id=queue_id, wrap_up_s=wrap_up_s)
            self.wrap_until = now + wrap_up_s
            return [event]
        if self.pending_logout or self.pending_pause is not None:
            return self._become_free()
        return [AgentCallEnded(**self._set(_S.AVAILABLE), call_id=call_id, queue_id=queue_id, wrap_up_s=0.0)]

    def ready(self) -> list[AgentEvent]:
        """The agent ends wrap-up early."""
        if self.state is not AgentState.WRAP_UP:
            raise IllegalTransition("agent", self.state, AgentState.AVAILABLE)
        return self._end_wrap_up()

    def _end_wrap_up(self) -> list[AgentEvent]:
        return self._become_free() or [AgentWrapUpEnded(**self._set(_S.AVAILABLE))]

    def tick(self) -> list[AgentEvent]:
        """Apply what time alone changes: the end of wrap-up."""
        due = self.next_deadline()
        if due is not None and self._clock.monotonic() >= due:
            return self._end_wrap_up()
        return []


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > 32 or not all(c.isalnum() or c in "-_" for c in reason):
        raise DomainError(f"pause reason must be 1-32 letters, digits, '-' or '_', got {reason!r}")
    return reason
