"""The media session's state machine: one table, one transition function."""

from __future__ import annotations

from enum import Enum

from appliance.domain.errors import IllegalTransition


class SessionState(Enum):
    """Where a media session is."""

    RESERVED = "reserved"  # legs held on a worker; the caller's INVITE not there yet
    ANSWERING = "answering"  # caller leg arrived; the service is starting
    HUNTING = "hunting"  # ringing members one after the other
    CONNECTED = "connected"  # caller talks to the service (echo) or to a member (bridge)
    ENDED = "ended"


_ALLOWED: dict[SessionState, frozenset[SessionState]] = {
    SessionState.RESERVED: frozenset({SessionState.ANSWERING, SessionState.ENDED}),
    SessionState.ANSWERING: frozenset(
        {SessionState.HUNTING, SessionState.CONNECTED, SessionState.ENDED}
    ),
    SessionState.HUNTING: frozenset({SessionState.CONNECTED, SessionState.ENDED}),
    SessionState.CONNECTED: frozenset({SessionState.ENDED}),
    SessionState.ENDED: frozenset(),
}


def transition(old: SessionState, new: SessionState) -> SessionState:
    """Return `new` if the table allows old -> new, else raise IllegalTransition."""
    if new not in _ALLOWED[old]:
        raise IllegalTransition("media session", old, new)
    return new
