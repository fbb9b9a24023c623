"""Typed domain events of the ACD, for the event log, the KPIs and the cloud sync.

Every event carries `at`, the clock's monotonic seconds when it happened; the adapter that
writes the event log stamps wall time. Events are frozen: they are facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.acd.destination import Destination
from appliance.domain.errors import DomainError

# --------------------------------------------------------------------------- agents


@dataclass(frozen=True, kw_only=True)
class AgentEvent:
    """An agent changed state (base of every agent event)."""

    agent_id: str
    at: float
    old: str  # AgentState.value before
    new: str  # AgentState.value after


@dataclass(frozen=True, kw_only=True)
class AgentLoggedIn(AgentEvent):
    """The agent logged in (feature code or API)."""


@dataclass(frozen=True, kw_only=True)
class AgentLoggedOut(AgentEvent):
    """The agent logged out."""


@dataclass(frozen=True, kw_only=True)
class AgentPaused(AgentEvent):
    """The agent paused with a reason code; `auto` when ring-no-answer paused them."""

    reason: str
    auto: bool = False


@dataclass(frozen=True, kw_only=True)
class AgentUnpaused(AgentEvent):
    """The agent is ready again after a pause."""


@dataclass(frozen=True, kw_only=True)
class AgentReserved(AgentEvent):
    """The agent's phone rings with a queue call."""

    call_id: str
    queue_id: str


@dataclass(frozen=True, kw_only=True)
class AgentReleased(AgentEvent):
    """The offer ended without a miss (the caller left, or another agent answered a ring-all)."""

    call_id: str


@dataclass(frozen=True, kw_only=True)
class AgentRingNoAnswer(AgentEvent):
    """The agent let an offer ring out; `misses` counts consecutive misses."""

    call_id: str
    misses: int


@dataclass(frozen=True, kw_only=True)
class AgentAnswered(AgentEvent):
    """The agent answered a call (queue call, or a direct call when queue_id is empty)."""

    call_id: str
    queue_id: str


@dataclass(frozen=True, kw_only=True)
class AgentCallEnded(AgentEvent):
    """The agent's call ended; wrap-up of `wrap_up_s` seconds follows when positive."""

    call_id: str
    queue_id: str
    wrap_up_s: float


@dataclass(frozen=True, kw_only=True)
class AgentWrapUpEnded(AgentEvent):
    """Wrap-up is over (time ran out or the agent said ready)."""


# --------------------------------------------------------------------------- queue calls


@dataclass(frozen=True, kw_only=True)
class QueueEvent:
    """Something happened to a call in a queue (base of every queue event)."""

    queue_id: str
    call_id: str
    at: float


@dataclass(frozen=True, kw_only=True)
class CallerJoined(QueueEvent):
    """A caller (or a callback holding a caller's place) joined the queue."""

    number: str
    priority: int
    position: int  # 1 = at the head
    skills: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CallOffered(QueueEvent):
    """The call was offered to one agent, or to several for ring-all."""

    agent_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class CallAnswered(QueueEvent):
    """An agent answered; `wait_s` is the caller's time in queue."""

    agent_id: str
    wait_s: float


@dataclass(frozen=True, kw_only=True)
class CallAbandoned(QueueEvent):
    """The caller hung up while waiting."""

    wait_s: float
    position: int


@dataclass(frozen=True, kw_only=True)
class CallTimedOut(QueueEvent):
    """The caller reached the queue's maximum wait and left for `destination`."""

    wait_s: float
    destination: Destination


@dataclass(frozen=True, kw_only=True)
class CallOverflowed(QueueEvent):
    """The caller was sent elsewhere: queue full, queue empty at join, or emptied while waiting."""

    reason: str  # "full" | "join_empty" | "leave_empty"
    wait_s: float
    destination: Destination


@dataclass(frozen=True, kw_only=True)
class CallTransferred(QueueEvent):
    """The agent transferred the answered call to `target`."""

    agent_id: str
    target: str


@dataclass(frozen=True, kw_only=True)
class CallEnded(QueueEvent):
    """An answered call ended; handle time is talk_s + wrap_up_s."""

    agent_id: str
    talk_s: float
    wrap_up_s: float


@dataclass(frozen=True, kw_only=True)
class CallbackRequested(QueueEvent):
    """The caller asked to be called back; a callback keeps their place (same call_id)."""

    number: str
    wait_s: float


@dataclass(frozen=True, kw_only=True)
class CallbackRetry(QueueEvent):
    """A callback's dial failed; it waits `retry_in_s` in its old place before the next attempt."""

    attempts: int
    retry_in_s: float


@dataclass(frozen=True, kw_only=True)
class CallbackFinished(QueueEvent):
    """A callback ended: 'connected', 'failed' (retries used up) or 'cancelled'."""

    outcome: str
    attempts: int


@dataclass(frozen=True, kw_only=True)
class SurveyAnswered(QueueEvent):
    """The caller rated the call 1-5 by DTMF after the agent hung up."""

    agent_id: str
    score: int

    def __post_init__(self) -> None:
        if not 1 <= self.score <= 5:
            raise DomainError(f"a survey score is 1-5, got {self.score}")


@dataclass(frozen=True, kw_only=True)
class CallAnnounced(QueueEvent):
    """The waiting caller heard announcements: position and wait, a periodic prompt, the callback offer."""

    position: int
    estimate_s: float | None  # the EWT behind what was said (None: nobody staffed)
    confident: bool
    said: tuple[str, ...]  # the prompts played, e.g. ("queue-position:2", "wait-less-than-a-minute")


@dataclass(frozen=True, kw_only=True)
class CallbackRefused(QueueEvent):
    """A waiting caller's callback request was refused (a duplicate, or not a number); they wait on."""

    number: str
    reason: str
