"""A call leg's state machine and SIP text helpers (pure, no pjsua2)."""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)


class LegState(enum.Enum):
    """Where a leg is in its life, as the worker sees it."""

    INCOMING = "incoming"  # INVITE received, only 100 Trying sent
    EARLY = "early"  # incoming leg answered with 180/183
    CALLING = "calling"  # outgoing INVITE sent
    RINGING = "ringing"  # outgoing leg got 180/183
    CONFIRMED = "confirmed"  # 200 OK + ACK: media flows
    ENDED = "ended"


class IllegalTransition(RuntimeError):
    """A leg was asked to move to a state it cannot reach from where it is."""


_ALLOWED: dict[LegState, frozenset[LegState]] = {
    LegState.INCOMING: frozenset({LegState.EARLY, LegState.CONFIRMED, LegState.ENDED}),
    LegState.EARLY: frozenset({LegState.EARLY, LegState.CONFIRMED, LegState.ENDED}),
    LegState.CALLING: frozenset({LegState.RINGING, LegState.CONFIRMED, LegState.ENDED}),
    LegState.RINGING: frozenset({LegState.RINGING, LegState.CONFIRMED, LegState.ENDED}),
    LegState.CONFIRMED: frozenset({LegState.ENDED}),
    LegState.ENDED: frozenset(),
}


@dataclass
class Leg:
    """One call leg owned by a worker; `by_local` records who ended it."""

    id: str
    direction: str  # "in" | "out"
    state: LegState
    by_local: bool = False
    timeout_hit: bool = False

    def set_state(self, new: LegState) -> bool:
        """Move to `new`; return True if the state changed; raise IllegalTransition."""
        if new == self.state:
            return False
        if new not in _ALLOWED[self.state]:
            raise IllegalTransition(f"leg {self.id}: {self.state.value} -> {new.value}")
        log.debug("leg %s: %s -> %s", self.id, self.state.value, new.value)
        self.state = new
        return True

    @property
    def answered(self) -> bool:
        """True once the leg is confirmed (media flowing)."""
        return self.state == LegState.CONFIRMED

    @property
    def ended(self) -> bool:
        """True once the leg is over."""
        return self.state == LegState.ENDED

    def check_answerable(self, code: int) -> None:
        """Raise ValueError unless an `answer` with `code` is valid now."""
        if self.direction != "in":
            raise ValueError(f"leg {self.id} is outgoing; only incoming legs are answered")
        if self.state not in (LegState.INCOMING, LegState.EARLY):
            raise ValueError(f"leg {self.id} is {self.state.value}, cannot answer")
        if self.state == LegState.EARLY and code < 200 and code != 183:
            # 180 after 18x is legal SIP but pointless; allow re-sending 183 (early media).
            raise ValueError(f"leg {self.id} already sent a provisional answer")


_REQUEST_LINE = re.compile(r"^[A-Z]+\s+(\S+)\s+SIP/2\.0", re.MULTILINE)
_USER = re.compile(r"^(?:sips?|tel):([^@;>]+)@", re.IGNORECASE)


def uri_user(uri: str) -> str:
    """The user part of a SIP URI (name-addr or bare), '' if none."""
    bare = uri.strip()
    if "<" in bare:
        bare = bare.split("<", 1)[1].split(">", 1)[0]
    m = _USER.match(bare)
    return m.group(1) if m else ""


def request_user(whole_msg: str, to_uri: str) -> str:
    """User part of the Request-URI of a SIP request; falls back to the To URI's user."""
    m = _REQUEST_LINE.search(whole_msg)
    user = uri_user(m.group(1)) if m else ""
    return user or uri_user(to_uri)
