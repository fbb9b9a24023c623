"""What a dispatcher command produces: events for the log and instructions for the media layer."""

from __future__ import annotations

from dataclasses import dataclass, field

from appliance.acd.destination import Destination
from appliance.acd.events import AgentEvent, QueueEvent

Event = AgentEvent | QueueEvent


@dataclass(frozen=True)
class Offer:
    """Ring these agents with this call; for a callback, dial the customer once an agent answers."""

    call_id: str
    queue_id: str
    agent_ids: tuple[str, ...]
    ring_timeout_s: float
    callback: bool = False


@dataclass(frozen=True)
class Redirect:
    """Send this caller out of the queue to `destination` (overflow, timeout, empty queue)."""

    call_id: str
    destination: Destination
    reason: str


@dataclass(frozen=True)
class Dial:
    """Dial the customer of a callback and bridge them to the agent already on the line."""

    call_id: str
    number: str
    agent_id: str


@dataclass
class Outcome:
    """What a command changed: events for the log, and what the media layer must do."""

    events: list[Event] = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    dials: list[Dial] = field(default_factory=list)

    def extend(self, other: Outcome) -> None:
        """Append another outcome's contents."""
        self.events += other.events
        self.offers += other.offers
        self.redirects += other.redirects
        self.dials += other.dials
