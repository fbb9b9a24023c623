"""Modem health: the modem state machine, reset backoff, alarms. Pure: no I/O, no clock."""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.at.values import Registration, Signal, SimState

log = logging.getLogger(__name__)


class ModemStateError(Exception):
    """An illegal modem state transition."""


class ModemState(enum.Enum):
    """Where the modem manager is with its modem."""

    STOPPED = "stopped"
    CONNECTING = "connecting"  # opening the port, synchronising, initialising
    READY = "ready"
    UNRESPONSIVE = "unresponsive"  # a probe went unanswered; one more chance
    RESETTING = "resetting"  # reset sent / port lost; waiting out the backoff


_ALLOWED: dict[ModemState, frozenset[ModemState]] = {
    ModemState.STOPPED: frozenset({ModemState.CONNECTING}),
    ModemState.CONNECTING: frozenset({ModemState.READY, ModemState.RESETTING,
                                      ModemState.STOPPED}),
    ModemState.READY: frozenset({ModemState.UNRESPONSIVE, ModemState.RESETTING,
                                 ModemState.STOPPED}),
    ModemState.UNRESPONSIVE: frozenset({ModemState.READY, ModemState.RESETTING,
                                        ModemState.STOPPED}),
    ModemState.RESETTING: frozenset({ModemState.CONNECTING, ModemState.STOPPED}),
}


# Alarm codes (stable identifiers for the web UI and the cloud)
ALARM_MODEM_DOWN = "modem_down"
ALARM_SIM_PIN = "sim_pin_required"
ALARM_SIM_PUK = "sim_puk_required"
ALARM_SIM_ABSENT = "sim_absent"
ALARM_NO_NETWORK = "no_network"

_SIM_ALARMS = {
    SimState.PIN_REQUIRED: ALARM_SIM_PIN,
    SimState.PUK_REQUIRED: ALARM_SIM_PUK,
    SimState.ABSENT: ALARM_SIM_ABSENT,
}


@dataclass(frozen=True)
class ModemStateChanged:
    """Event: the modem moved from `old` to `new` (with the reason, e.g. the last error)."""

    old: ModemState
    new: ModemState
    reason: str


@dataclass(frozen=True)
class AlarmRaised:
    """Event: a condition that needs a human (or patience) began."""

    code: str
    text: str


@dataclass(frozen=True)
class AlarmCleared:
    """Event: the condition behind an alarm is gone."""

    code: str


@dataclass(frozen=True)
class SignalChanged:
    """Event: signal quality changed."""

    signal: Signal


@dataclass(frozen=True)
class RegistrationChanged:
    """Event: network registration changed."""

    registration: Registration


@dataclass(frozen=True)
class SimStateChanged:
    """Event: the SIM card state changed."""

    sim: SimState


HealthEvent = (ModemStateChanged | AlarmRaised | AlarmCleared | SignalChanged
               | RegistrationChanged | SimStateChanged)


@dataclass(frozen=True)
class Backoff:
    """Exponential reset backoff with jitter: initial * factor**n, capped."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.1

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before reconnect attempt number `attempt` (0-based)."""
        base = min(self.maximum, self.initial * self.factor ** max(0, attempt))
        return base * (1.0 + self.jitter * (2.0 * rand() - 1.0))


class ModemHealth:
    """The modem's state, last error, alarms and status; emits events only on change."""

    def __init__(self, backoff: Backoff | None = None) -> None:
        self.state = ModemState.STOPPED
        self.backoff = backoff or Backoff()
        self.last_error: str | None = None
        self.failures = 0  # consecutive failed connects / resets
        self.alarms: dict[str, str] = {}
        self.signal: Signal | None = None
        self.registration: Registration | None = None
        self.sim: SimState | None = None

    def transition(self, new: ModemState, reason: str = "") -> list[HealthEvent]:
        """Move to `new`; raise ModemStateError if not allowed; return events incl. alarms."""
        old = self.state
        if new not in _ALLOWED[old]:
            raise ModemStateError(f"modem cannot go {old.value} -> {new.value}")
        log.info("modem %s -> %s %s", old.value, new.value, reason)
        self.state = new
        events: list[HealthEvent] = [ModemStateChanged(old, new, reason)]
        if new is ModemState.RESETTING:
            self.failures += 1
            if reason:
                self.last_error = reason
            events += self.raise_alarm(ALARM_MODEM_DOWN, reason or "modem not answering")
        elif new is ModemState.READY:
            self.failures = 0
            events += self.clear_alarm(ALARM_MODEM_DOWN)
        return events

    def next_delay(self, rand: Callable[[], float] = random.random) -> float:
        """Backoff before the next reconnect, growing with consecutive failures."""
        return self.backoff.delay(self.failures - 1, rand)

    def record_error(self, text: str) -> None:
        """Remember the most recent error (shown in the UI)."""
        self.last_error = text

    def raise_alarm(self, code: str, text: str) -> list[HealthEvent]:
        """Raise alarm `code` unless already raised."""
        if code in self.alarms:
            return []
        self.alarms[code] = text
        return [AlarmRaised(code, text)]

    def clear_alarm(self, code: str) -> list[HealthEvent]:
        """Clear alarm `code` if raised."""
        if self.alarms.pop(code, None) is None:
            return []
        return [AlarmCleared(code)]

    def update_signal(self, signal: Signal) -> list[HealthEvent]:
        """Record a signal reading; an event only when it changed."""
        if signal == self.signal:
            return []
        self.signal = signal
        return [SignalChanged(signal)]

    def update_registration(self, reg: Registration) -> list[HealthEvent]:
        """Record registration; raises/clears the no-network alarm."""
        if reg == self.registration:
            return []
        self.registration = reg
        events: list[HealthEvent] = [RegistrationChanged(reg)]
        if reg.registered:
            events += self.clear_alarm(ALARM_NO_NETWORK)
        elif reg is not Registration.UNKNOWN:  # searching counts: no calls, no SMS
            events += self.raise_alarm(ALARM_NO_NETWORK, f"network registration: {reg.name}")
        return events

    def update_sim(self, sim: SimState) -> list[HealthEvent]:
        """Record the SIM state; a SIM asking for PIN/PUK or missing raises an alarm."""
        if sim == self.sim:
            return []
        self.sim = sim
        events: list[HealthEvent] = [SimStateChanged(sim)]
        for state, code in _SIM_ALARMS.items():
            if state is sim:
                events += self.raise_alarm(code, f"SIM: {sim.value}")
            else:
                events += self.clear_alarm(code)
        return events
