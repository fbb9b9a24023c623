"""The modem's voice call state machine: one State enum, one transition function.

Every vendor dialect (+CLCC, +QIND "ccinfo", VOICE CALL: BEGIN/END, ^ORIG/^CONF/^CONN/^CEND,
RING/+CLIP, NO CARRIER) is first mapped by the profile into a `CallSignal`; the tracker
turns signals into call state. Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


class CallStateError(Exception):
    """A call signal that makes no sense in the current call state."""


class CallState(enum.Enum):
    """Where a GSM voice call is."""

    IDLE = "idle"
    DIALING = "dialing"
    ALERTING = "alerting"
    RINGING = "ringing"
    ACTIVE = "active"
    ENDED = "ended"


class CallSignal(enum.Enum):
    """What a URC (or a local command's result) says about the call."""

    DIALING = "dialing"
    ALERTING = "alerting"
    INCOMING = "incoming"
    CONNECTED = "connected"
    ENDED = "ended"


@dataclass(frozen=True)
class CallUpdate:
    """A call signal decoded from one URC, with the remote number when the URC carries it."""

    signal: CallSignal
    number: str | None = None


@dataclass(frozen=True)
class CallStateChanged:
    """Event: the call moved from `old` to `new`."""

    old: CallState
    new: CallState
    number: str | None
    outgoing: bool


_ALLOWED: dict[CallState, frozenset[CallState]] = {
    CallState.IDLE: frozenset({CallState.DIALING, CallState.RINGING}),
    CallState.DIALING: frozenset({CallState.ALERTING, CallState.ACTIVE, CallState.ENDED}),
    CallState.ALERTING: frozenset({CallState.ACTIVE, CallState.ENDED}),
    CallState.RINGING: frozenset({CallState.ACTIVE, CallState.ENDED}),
    CallState.ACTIVE: frozenset({CallState.ENDED}),
    CallState.ENDED: frozenset({CallState.IDLE}),
}

_TARGET = {
    CallSignal.DIALING: CallState.DIALING,
    CallSignal.ALERTING: CallState.ALERTING,
    CallSignal.INCOMING: CallState.RINGING,
    CallSignal.CONNECTED: CallState.ACTIVE,
    CallSignal.ENDED: CallState.ENDED,
}

# Signals that repeat while the call stays where it is (RING every few seconds, +CLCC
# reports of the state we already know) or that a later stage already implies.
_ALREADY = {
    CallState.DIALING: {CallSignal.DIALING},
    CallState.ALERTING: {CallSignal.DIALING, CallSignal.ALERTING},
    CallState.RINGING: {CallSignal.INCOMING},
    CallState.ACTIVE: {CallSignal.CONNECTED, CallSignal.DIALING, CallSignal.ALERTING,
                       CallSignal.INCOMING},
    CallState.IDLE: {CallSignal.ENDED},
}


class CallTracker:
    """Tracks the one voice call a GSM modem carries at a time."""

    def __init__(self) -> None:
        self.state = CallState.IDLE
        self.number: str | None = None
        self.outgoing = False

    def apply(self, update: CallUpdate) -> list[CallStateChanged]:
        """Apply one decoded call signal; return the state changes it caused."""
        if update.number and self.number is None:
            # the number may come after the state (our ATD result after the ^ORIG URC)
            self.number = update.number
        if update.signal in _ALREADY.get(self.state, set()):
            return []
        if update.signal is CallSignal.DIALING and self.state is CallState.IDLE:
            self.outgoing = True
        elif update.signal is CallSignal.INCOMING and self.state is CallState.IDLE:
            self.outgoing = False
        events = [self._set_state(_TARGET[update.signal])]
        if self.state is CallState.ENDED:
            events.append(self._set_state(CallState.IDLE))
        return events

    def reset(self) -> list[CallStateChanged]:
        """The modem went away: any call it carried is over."""
        if self.state is CallState.IDLE:
            return []
        return self.apply(CallUpdate(CallSignal.ENDED))

    def _set_state(self, new: CallState) -> CallStateChanged:
        old = self.state
        if new not in _ALLOWED[old]:
            raise CallStateError(f"call cannot go {old.value} -> {new.value}")
        log.info("call %s -> %s", old.value, new.value)
        event = CallStateChanged(old, new, self.number, self.outgoing)
        self.state = new
        if new is CallState.IDLE:
            self.number = None
            self.outgoing = False
        return event
