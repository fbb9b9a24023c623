"""Pure pieces of the cloud link: its state machine, reconnect backoff and send window."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

log = logging.getLogger(__name__)


class LinkError(RuntimeError):
    """An illegal cloud-link transition."""


class State(Enum):
    """State of the box's link to the broker."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "waiting"  # backing off before the next attempt
    DRAINING = "draining"  # stopping: waiting for pending acks
    STOPPED = "stopped"


_ALLOWED: dict[State, set[State]] = {
    State.IDLE: {State.CONNECTING, State.STOPPED},
    State.CONNECTING: {State.CONNECTED, State.WAITING, State.STOPPED},
    State.CONNECTED: {State.WAITING, State.DRAINING, State.STOPPED},
    State.WAITING: {State.CONNECTING, State.STOPPED},
    State.DRAINING: {State.STOPPED},
    State.STOPPED: set(),
}


class Link:
    """Holds the link state; `set_state` is the only way to change it."""

    def __init__(self) -> None:
        self.state = State.IDLE
        self.listeners: list[Callable[[State, State], None]] = []

    def set_state(self, new: State) -> None:
        """Move to `new`; raise LinkError when the move is not allowed."""
        old = self.state
        if new not in _ALLOWED[old]:
            raise LinkError(f"cloud link: illegal transition {old.value} -> {new.value}")
        self.state = new
        log.info("cloud link %s -> %s", old.value, new.value)
        for listener in self.listeners:
            listener(old, new)


class Backoff:
    """Exponential reconnect delay with jitter: the n-th delay is in [base*(1-j), base]."""

    def __init__(
        self,
        uniform: Callable[[], float],
        initial: float = 0.5,
        maximum: float = 60.0,
        factor: float = 2.0,
        jitter: float = 0.5,
    ) -> None:
        if not (0 < initial <= maximum and factor >= 1 and 0 <= jitter <= 1):
            raise ValueError("backoff: need 0 < initial <= maximum, factor >= 1, 0 <= jitter <= 1")
        self._uniform = uniform
        self.initial, self.maximum, self.factor, self.jitter = initial, maximum, factor, jitter
        self._attempt = 0

    def next(self) -> float:
        """Return the delay before the next attempt and count the attempt."""
        base = min(self.maximum, self.initial * self.factor**self._attempt)
        self._attempt += 1
        return base * (1 - self.jitter * self._uniform())

    def reset(self) -> None:
        """Start again from the initial delay (after a successful connect)."""
        self._attempt = 0


@dataclass(frozen=True)
class InFlight:
    """An outbox row published and waiting for its PUBACK."""

    rowid: int
    stream: str


class SendWindow:
    """At most `size` unacknowledged publishes, keyed by paho message id."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("send window must be at least 1")
        self.size = size
        self._by_mid: dict[int, InFlight] = {}

    def room(self) -> int:
        """How many more publishes may go out now."""
        return self.size - len(self._by_mid)

    def add(self, mid: int, item: InFlight) -> None:
        """Track a publish; raise when the window is full or the mid is in use."""
        if self.room() <= 0:
            raise LinkError("send window full")
        if mid in self._by_mid:
            raise LinkError(f"message id {mid} already in flight")
        self._by_mid[mid] = item

    def ack(self, mid: int) -> InFlight | None:
        """Forget and return the publish with this mid (None when unknown)."""
        return self._by_mid.pop(mid, None)

    def __len__(self) -> int:
        return len(self._by_mid)

    def clear(self) -> list[InFlight]:
        """Drop everything in flight (the connection is gone) and return it."""
        items = list(self._by_mid.values())
        self._by_mid.clear()
        return items
