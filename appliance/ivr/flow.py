"""An IVR session: a pure state machine fed digits and timeouts, returning actions for the media layer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from appliance.acd.destination import Destination, DestinationKind
from appliance.domain.clock import Clock
from appliance.domain.errors import DomainError, IllegalTransition
from appliance.ivr.menu import DTMF, IvrConfig, Menu


class IvrState(Enum):
    """Where an IVR session is."""

    IDLE = "idle"  # not started
    MENU = "menu"  # prompt playing or played; waiting for the first digit
    COLLECTING = "collecting"  # digits of an extension number coming in
    DONE = "done"  # transferred or hung up


_I = IvrState
_ALLOWED: dict[IvrState, frozenset[IvrState]] = {
    _I.IDLE: frozenset({_I.MENU, _I.DONE}),
    _I.MENU: frozenset({_I.MENU, _I.COLLECTING, _I.DONE}),
    _I.COLLECTING: frozenset({_I.MENU, _I.DONE}),
    _I.DONE: frozenset(),
}


def transition(old: IvrState, new: IvrState) -> IvrState:
    """Return `new` if the table allows old -> new, else raise IllegalTransition."""
    if new not in _ALLOWED[old]:
        raise IllegalTransition("ivr", old, new)
    return new


@dataclass(frozen=True)
class Play:
    """Play a prompt (digits pressed during it count: barge-in)."""

    prompt: str


@dataclass(frozen=True)
class WaitForDigit:
    """Arm a timer; a digit cancels it, its expiry is reported with timeout()."""

    timeout_s: float


@dataclass(frozen=True)
class Transfer:
    """Leave the IVR for a queue, an extension, a mailbox or an external number."""

    destination: Destination


@dataclass(frozen=True)
class Hangup:
    """End the call politely."""


Action = Play | WaitForDigit | Transfer | Hangup


class IvrSession:
    """One caller's walk through the IVR."""

    def __init__(self, config: IvrConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self.state = IvrState.IDLE
        self.menu: Menu | None = None
        self.retries = 0
        self.buffer = ""
        self.trail: list[str] = []  # every node visited and key pressed, for the call record

    def _set(self, new: IvrState) -> None:
        self.state = transition(self.state, new)

    def start(self) -> list[Action]:
        """The call entered the IVR."""
        if self.state is not IvrState.IDLE:
            raise IllegalTransition("ivr", self.state, IvrState.MENU)
        return self._go(self.config.entry)

    def _go(self, dest: Destination) -> list[Action]:
        self.trail.append(str(dest))
        if dest.kind is DestinationKind.SWITCH:
            sw = self.config.switches[dest.target]
            status = sw.hours.status(self._clock.now())
            if status.holiday is not None and sw.holiday is not None and not status.open:
                return self._go(sw.holiday)
            return self._go(sw.open if status.open else sw.closed)
        if dest.kind is DestinationKind.MENU:
            self.menu = self.config.menus[dest.target]
            self.retries = 0
            self.buffer = ""
            self._set(IvrState.MENU)
            return self._prompt()
        self._set(IvrState.DONE)
        self.menu = None
        return [Hangup()] if dest.kind is DestinationKind.HANGUP else [Transfer(dest)]

    def _prompt(self) -> list[Action]:
        assert self.menu is not None
        return [Play(self.menu.prompt), WaitForDigit(self.menu.timeout_s)]

    def _retry(self, why: str) -> list[Action]:
        """Count a bad or missing input: replay the menu, or leave for on_fail when retries run out."""
        menu = self.menu
        assert menu is not None
        self.buffer = ""
        self.retries += 1
        self.trail.append(why)
        if self.retries > menu.max_retries:
            return self._go(menu.on_fail)
        self._set(IvrState.MENU)
        lead: list[Action] = [Play(menu.invalid_prompt)] if why == "invalid" else []
        return lead + self._prompt()

    def digit(self, key: str) -> list[Action]:
        """A DTMF key arrived (RFC 2833 or SIP INFO; the adapter hands over the key)."""
        if key not in DTMF or len(key) != 1:
            raise DomainError(f"not a DTMF key: {key!r}")
        if self.state not in (IvrState.MENU, IvrState.COLLECTING):
            raise DomainError(f"the IVR is {self.state.value}; it takes no digits")
        menu = self.menu
        assert menu is not None
        self.trail.append(f"key:{key}")
        if self.state is IvrState.MENU and key == menu.repeat_key:
            return self._prompt()
        candidate = self.buffer + key
        extensions = self.config.directory.extensions if menu.dial_extensions else frozenset()
        longer = any(len(x) > len(candidate) and x.startswith(candidate) for x in extensions)
        if self.state is IvrState.MENU and candidate in menu.options and not longer:
            return self._go(menu.options[candidate])
        if candidate in extensions and not longer:
            return self._go(Destination(DestinationKind.EXTENSION, candidate))
        if longer:
            self.buffer = candidate
            if self.state is IvrState.MENU:
                self._set(IvrState.COLLECTING)
            return [WaitForDigit(menu.inter_digit_timeout_s)]
        return self._retry("invalid")

    def timeout(self) -> list[Action]:
        """The digit timer expired: a finished short option or extension, else a retry."""
        if self.state not in (IvrState.MENU, IvrState.COLLECTING):
            raise DomainError(f"the IVR is {self.state.value}; no timer runs")
        menu = self.menu
        assert menu is not None
        if self.state is IvrState.COLLECTING:
            buffered, self.buffer = self.buffer, ""
            if len(buffered) == 1 and buffered in menu.options:
                return self._go(menu.options[buffered])
            if buffered in self.config.directory.extensions:
                return self._go(Destination(DestinationKind.EXTENSION, buffered))
            return self._retry("invalid")
        return self._retry("timeout")
