"""A trunk's health: up/down with hysteresis, driven by OPTIONS pings and call outcomes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from appliance.domain.errors import IllegalTransition

log = logging.getLogger(__name__)


class TrunkState(Enum):
    """Whether calls should be sent to the trunk."""

    UNKNOWN = "unknown"  # no evidence yet: calls are tried
    UP = "up"
    DOWN = "down"  # skipped by outbound routes until it recovers


_ALLOWED: dict[TrunkState, frozenset[TrunkState]] = {
    TrunkState.UNKNOWN: frozenset({TrunkState.UP, TrunkState.DOWN}),
    TrunkState.UP: frozenset({TrunkState.DOWN}),
    TrunkState.DOWN: frozenset({TrunkState.UP}),
}


def transition(old: TrunkState, new: TrunkState) -> TrunkState:
    """Return `new` if the table allows old -> new, else raise IllegalTransition."""
    if new not in _ALLOWED[old]:
        raise IllegalTransition("trunk health", old, new)
    return new


@dataclass
class TrunkHealth:
    """Consecutive failures mark a trunk down; consecutive successes bring it back."""

    name: str
    fail_threshold: int = 2
    ok_threshold: int = 2
    state: TrunkState = TrunkState.UNKNOWN
    fails: int = 0
    oks: int = 0
    last_code: int | None = None  # last answer (None: no answer)
    changed_at: float = 0.0  # monotonic seconds of the last state change

    @property
    def usable(self) -> bool:
        """Calls may be sent (down trunks are skipped)."""
        return self.state is not TrunkState.DOWN

    def observe(self, ok: bool, code: int | None, now: float) -> TrunkState | None:
        """Feed one ping or call outcome; return the new state if it changed."""
        self.last_code = code
        if ok:
            self.oks, self.fails = self.oks + 1, 0
            if self.state is not TrunkState.UP and (self.state is TrunkState.UNKNOWN or self.oks >= self.ok_threshold):
                return self._set_state(TrunkState.UP, now)
        else:
            self.fails, self.oks = self.fails + 1, 0
            if self.state is not TrunkState.DOWN and self.fails >= self.fail_threshold:
                return self._set_state(TrunkState.DOWN, now)
        return None

    def _set_state(self, new: TrunkState, now: float) -> TrunkState:
        old = self.state
        self.state = transition(old, new)
        self.changed_at = now
        log.info("trunk %s: %s -> %s (last answer %s)", self.name, old.value, new.value, self.last_code)
        return new


def ping_ok(code: int | None) -> bool:
    """An OPTIONS answer that shows the trunk alive: any final answer but 5xx/6xx and 408."""
    return code is not None and 200 <= code < 500 and code != 408


def call_failure_counts(code: int) -> bool:
    """A call outcome that says the trunk (not the callee) failed: 5xx or a timeout."""
    return 500 <= code < 600 or code == 408
