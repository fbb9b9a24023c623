"""Callbacks that keep the caller's place: a virtual caller holds the position, then the agent dials out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from appliance.acd.events import CallbackFinished, CallbackRequested, CallbackRetry, CallerJoined
from appliance.domain.errors import DomainError, IllegalTransition


class CallbackState(Enum):
    """Where a callback is."""

    QUEUED = "queued"  # holding the caller's place (or waiting to retry)
    AGENT_RINGING = "agent_ringing"  # at the head: an agent is being reserved first
    DIALING = "dialing"  # the agent answered; the customer is being dialled
    CONNECTED = "connected"  # the customer answered
    FAILED = "failed"  # attempts used up
    CANCELLED = "cancelled"


_C = CallbackState
_ALLOWED: dict[CallbackState, frozenset[CallbackState]] = {
    _C.QUEUED: frozenset({_C.AGENT_RINGING, _C.CANCELLED}),
    _C.AGENT_RINGING: frozenset({_C.DIALING, _C.QUEUED, _C.CANCELLED}),
    _C.DIALING: frozenset({_C.CONNECTED, _C.QUEUED, _C.FAILED, _C.CANCELLED}),
    _C.CONNECTED: frozenset(),
    _C.FAILED: frozenset(),
    _C.CANCELLED: frozenset(),
}
FINISHED = frozenset({_C.CONNECTED, _C.FAILED, _C.CANCELLED})


def transition(old: CallbackState, new: CallbackState) -> CallbackState:
    """Return `new` if the table allows old -> new, else raise IllegalTransition."""
    if new not in _ALLOWED[old]:
        raise IllegalTransition("callback", old, new)
    return new


class DuplicateCallback(DomainError):
    """The caller already has a callback pending in this queue."""


@dataclass
class Callback:
    """One callback: who to call, for which queue, and how many dial attempts were made."""

    call_id: str  # the id of the call whose place it keeps
    queue_id: str
    number: str
    requested_at: float
    state: CallbackState = CallbackState.QUEUED
    attempts: int = 0

    def move(self, new: CallbackState) -> None:
        """The one transition function."""
        self.state = transition(self.state, new)


@dataclass(frozen=True)
class CallbackPolicy:
    """How hard to try: at most `max_attempts` dials, `retry_delay_s` apart."""

    max_attempts: int = 3
    retry_delay_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.retry_delay_s < 0:
            raise DomainError(f"callback policy needs max_attempts >= 1 and retry_delay_s >= 0, got {self}")


def normalize_number(number: str) -> str:
    """The digits of a callback number (a leading + kept); refuse anything that is not a phone number."""
    text = number.strip().replace(" ", "").replace("-", "")
    body = text[1:] if text.startswith("+") else text
    if not body.isdigit() or not 3 <= len(body) <= 20:
        raise DomainError(f"not a phone number to call back: {number!r}")
    return text


class CallbackBook:
    """The callbacks in progress, at most one per (number, queue)."""

    def __init__(self, policy: CallbackPolicy | None = None) -> None:
        self.policy = policy or CallbackPolicy()
        self._by_call: dict[str, Callback] = {}
        self._active: dict[tuple[str, str], str] = {}  # (number, queue) -> call_id

    def get(self, call_id: str) -> Callback | None:
        """The callback keeping this call's place, if any (finished ones are forgotten)."""
        return self._by_call.get(call_id)

    def active(self) -> list[Callback]:
        """Every callback not finished yet."""
        return list(self._by_call.values())

    def open(self, call_id: str, queue_id: str, number: str, now: float) -> Callback:
        """Start a callback; raise DuplicateCallback if this number already waits for one in this queue."""
        number = normalize_number(number)
        key = (number, queue_id)
        if key in self._active:
            raise DuplicateCallback(f"{number} already has a callback pending in queue {queue_id}")
        if call_id in self._by_call:
            raise DuplicateCallback(f"call {call_id} already has a callback")
        cb = Callback(call_id=call_id, queue_id=queue_id, number=number, requested_at=now)
        self._by_call[call_id] = cb
        self._active[key] = call_id
        return cb

    def close(self, cb: Callback, state: CallbackState) -> None:
        """Finish a callback: connected, failed or cancelled; the number may ask again afterwards."""
        if state not in FINISHED:
            raise DomainError(f"{state} does not finish a callback")
        cb.move(state)
        self._by_call.pop(cb.call_id, None)
        self._active.pop((cb.number, cb.queue_id), None)


@dataclass(frozen=True)
class CallbackRecord:
    """What it takes to re-queue a callback after a restart."""

    call_id: str
    queue_id: str
    number: str
    priority: int = 0
    skills: tuple[str, ...] = ()
    attempts: int = 0


def pending_callbacks(events: Iterable[object]) -> list[CallbackRecord]:
    """Callbacks requested and not finished in an event log, in their original queue order."""
    joined: dict[str, CallerJoined] = {}
    order: list[str] = []
    pending: dict[str, CallbackRecord] = {}
    for ev in events:
        if isinstance(ev, CallerJoined):
            joined[ev.call_id] = ev
            order.append(ev.call_id)
        elif isinstance(ev, CallbackRequested):
            j = joined.get(ev.call_id)
            priority, skills = (j.priority, j.skills) if j else (0, ())
            pending[ev.call_id] = CallbackRecord(ev.call_id, ev.queue_id, ev.number, priority, skills)
        elif isinstance(ev, CallbackRetry) and ev.call_id in pending:
            old = pending[ev.call_id]
            pending[ev.call_id] = CallbackRecord(
                old.call_id, old.queue_id, old.number, old.priority, old.skills, ev.attempts
            )
        elif isinstance(ev, CallbackFinished):
            pending.pop(ev.call_id, None)
    rank = {c: i for i, c in enumerate(order)}
    records = sorted(pending.values(), key=lambda r: (-r.priority, rank.get(r.call_id, len(rank))))
    return records
