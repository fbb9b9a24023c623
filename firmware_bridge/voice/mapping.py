"""The gateway's call mapping: one GSM call tied to one SIP call, as a pure state machine.

Inputs are what the two sides report (GSM ringing/alerting/active/ended from the modem's
call URCs, SIP answered/ended from pjsua2); outputs are the actions the adapter carries
out on the other side. One `State` enum, one `_set_state`, illegal transitions raise
`MappingError`. No I/O, no clock.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

_DIALABLE = re.compile(r"^\+?[0-9*#]{1,32}$")
_URI = re.compile(r"^(?:sips?|tel):(?P<user>[^@;?>]+)", re.IGNORECASE)


class MappingError(Exception):
    """An event that makes no sense for the call mapping in its current state."""


class Direction(enum.Enum):
    """Which side started the call."""

    INBOUND = "inbound"  # GSM network -> SIP (Kamailio routes it like a trunk call)
    OUTBOUND = "outbound"  # SIP INVITE to the gateway -> ATD over GSM


class State(enum.Enum):
    """Where a gateway call is."""

    GSM_RINGING = "gsm_ringing"  # inbound: INVITE sent, waiting for the SIP side to answer
    CONNECTING = "connecting"  # inbound: SIP answered, ATA sent, waiting for GSM active
    DIALING = "dialing"  # outbound: INVITE received, ATD sent
    ALERTING = "alerting"  # outbound: the GSM far end rings (180 sent)
    ACTIVE = "active"  # both legs up, audio bridged
    ENDED = "ended"


class Event(enum.Enum):
    """What one side reports."""

    GSM_ALERTING = "gsm_alerting"
    GSM_ACTIVE = "gsm_active"
    GSM_ENDED = "gsm_ended"  # includes the modem going away (reset, port lost)
    GSM_FAILED = "gsm_failed"  # ATD/ATA refused by the modem
    SIP_ANSWERED = "sip_answered"
    SIP_ENDED = "sip_ended"  # BYE, CANCEL, rejection or transport failure


class Action(enum.Enum):
    """What the adapter must do next."""

    SIP_INVITE = "sip_invite"
    SIP_RING = "sip_ring"  # 180 Ringing to the SIP caller
    SIP_ANSWER = "sip_answer"  # 200 OK to the SIP caller
    SIP_REJECT = "sip_reject"  # final error response to the SIP caller (`reject_code`)
    SIP_HANGUP = "sip_hangup"  # CANCEL or BYE our INVITE
    GSM_DIAL = "gsm_dial"
    GSM_ANSWER = "gsm_answer"
    GSM_HANGUP = "gsm_hangup"
    AUDIO_BRIDGE = "audio_bridge"
    AUDIO_UNBRIDGE = "audio_unbridge"


_ALLOWED: dict[State, frozenset[State]] = {
    State.GSM_RINGING: frozenset({State.CONNECTING, State.ENDED}),
    State.CONNECTING: frozenset({State.ACTIVE, State.ENDED}),
    State.DIALING: frozenset({State.ALERTING, State.ACTIVE, State.ENDED}),
    State.ALERTING: frozenset({State.ACTIVE, State.ENDED}),
    State.ACTIVE: frozenset({State.ENDED}),
    State.ENDED: frozenset(),
}

# (state, event) -> (next state, actions)
_TABLE: dict[tuple[State, Event], tuple[State, tuple[Action, ...]]] = {
    (State.GSM_RINGING, Event.SIP_ANSWERED): (State.CONNECTING, (Action.GSM_ANSWER,)),
    (State.GSM_RINGING, Event.SIP_ENDED): (State.ENDED, (Action.GSM_HANGUP,)),
    (State.GSM_RINGING, Event.GSM_ENDED): (State.ENDED, (Action.SIP_HANGUP,)),
    (State.CONNECTING, Event.GSM_ACTIVE): (State.ACTIVE, (Action.AUDIO_BRIDGE,)),
    (State.CONNECTING, Event.GSM_ENDED): (State.ENDED, (Action.SIP_HANGUP,)),
    (State.CONNECTING, Event.GSM_FAILED): (State.ENDED, (Action.GSM_HANGUP, Action.SIP_HANGUP)),
    (State.CONNECTING, Event.SIP_ENDED): (State.ENDED, (Action.GSM_HANGUP,)),
    (State.DIALING, Event.GSM_ALERTING): (State.ALERTING, (Action.SIP_RING,)),
    (State.DIALING, Event.GSM_ACTIVE): (State.ACTIVE, (Action.SIP_ANSWER, Action.AUDIO_BRIDGE)),
    (State.DIALING, Event.GSM_ENDED): (State.ENDED, (Action.SIP_REJECT,)),
    (State.DIALING, Event.GSM_FAILED): (State.ENDED, (Action.SIP_REJECT,)),
    (State.DIALING, Event.SIP_ENDED): (State.ENDED, (Action.GSM_HANGUP,)),
    (State.ALERTING, Event.GSM_ACTIVE): (State.ACTIVE, (Action.SIP_ANSWER, Action.AUDIO_BRIDGE)),
    (State.ALERTING, Event.GSM_ENDED): (State.ENDED, (Action.SIP_REJECT,)),
    (State.ALERTING, Event.SIP_ENDED): (State.ENDED, (Action.GSM_HANGUP,)),
    (State.ACTIVE, Event.GSM_ENDED): (State.ENDED, (Action.AUDIO_UNBRIDGE, Action.SIP_HANGUP)),
    (State.ACTIVE, Event.SIP_ENDED): (State.ENDED, (Action.AUDIO_UNBRIDGE, Action.GSM_HANGUP)),
}

# Reports that repeat or echo what we did ourselves: absorbed without actions.
_ABSORBED: frozenset[tuple[State, Event]] = frozenset({
    (State.ALERTING, Event.GSM_ALERTING),
    (State.ACTIVE, Event.GSM_ACTIVE),
    (State.ACTIVE, Event.GSM_ALERTING),
    (State.ACTIVE, Event.SIP_ANSWERED),
    (State.ENDED, Event.GSM_ENDED),
    (State.ENDED, Event.GSM_FAILED),
    (State.ENDED, Event.SIP_ENDED),
    (State.ENDED, Event.GSM_ACTIVE),  # answered by the modem just as we gave up
    (State.ENDED, Event.GSM_ALERTING),
    (State.ENDED, Event.SIP_ANSWERED),
})


@dataclass(frozen=True)
class Transition:
    """Log record of one state change."""

    old: State
    new: State
    event: Event


class CallMapping:
    """One GSM call and its SIP counterpart."""

    def __init__(self, direction: Direction, number: str) -> None:
        self.direction = direction
        self.number = number  # the GSM party: caller (inbound) or dialled number (outbound)
        self.state = State.GSM_RINGING if direction is Direction.INBOUND else State.DIALING
        self.history: list[Transition] = []
        self.end_cause = ""
        self.reject_code = 0

    @classmethod
    def inbound(cls, caller: str | None) -> tuple[CallMapping, list[Action]]:
        """A GSM call rings: map it and send an INVITE."""
        return cls(Direction.INBOUND, caller or "anonymous"), [Action.SIP_INVITE]

    @classmethod
    def outbound(cls, number: str) -> tuple[CallMapping, list[Action]]:
        """An INVITE to `number` arrived: map it and dial over GSM (number already checked)."""
        if not is_dialable(number):
            raise MappingError(f"not a dialable number: {number!r}")
        return cls(Direction.OUTBOUND, number), [Action.GSM_DIAL]

    @property
    def ended(self) -> bool:
        """True once the mapping is over."""
        return self.state is State.ENDED

    def handle(self, event: Event, cause: str = "") -> list[Action]:
        """Apply one side's report; return the actions for the adapter."""
        key = (self.state, event)
        if key in _ABSORBED:
            return []
        step = _TABLE.get(key)
        if step is None:
            raise MappingError(f"{self.direction.value} call in {self.state.value} "
                               f"cannot take {event.value}")
        new, actions = step
        self._set_state(new, event)
        if new is State.ENDED:
            self.end_cause = cause or event.value
            if Action.SIP_REJECT in actions:
                self.reject_code = 503 if event is Event.GSM_FAILED else 480
        return list(actions)

    def _set_state(self, new: State, event: Event) -> None:
        old = self.state
        if new not in _ALLOWED[old]:
            raise MappingError(f"call cannot go {old.value} -> {new.value}")
        log.info("gsm %s call %s -> %s (%s)", self.direction.value, old.value, new.value,
                 event.value)
        self.history.append(Transition(old, new, event))
        self.state = new


def is_dialable(number: str) -> bool:
    """True if `number` can go into ATD (digits, a leading +, * and #)."""
    return bool(_DIALABLE.match(number))


def number_from_uri(uri: str) -> str:
    """The user part of a SIP/tel URI with visual separators removed; '' when absent."""
    m = _URI.match(uri.strip().strip("<>"))
    if m is None:
        return ""
    user = m.group("user")
    return re.sub(r"[\s\-().]", "", user)


def request_uri(message: str) -> str:
    """The Request-URI of a SIP request (its first line); '' when it is not a request."""
    first = message.split("\n", 1)[0].strip()
    parts = first.split(" ")
    if len(parts) != 3 or not parts[2].upper().startswith("SIP/"):
        return ""
    return parts[1]
