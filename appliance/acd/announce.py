"""What a waiting caller hears and when: entry, position and wait, periodic messages, callback offer."""

from __future__ import annotations

import math
from dataclasses import dataclass

from appliance.acd.estimate import WaitEstimate
from appliance.domain.errors import DomainError


@dataclass(frozen=True)
class AnnouncementConfig:
    """A queue's announcement settings (None switches one off)."""

    entry_prompt: str | None = "queue-welcome"
    position_every_s: float | None = 60.0  # position (and wait, when the estimate is confident)
    periodic_prompt: str | None = None
    periodic_every_s: float | None = None
    callback_after_s: float | None = None  # offer "press 1 to be called back" from this wait on
    callback_prompt: str = "queue-callback-offer"
    max_wait_said_min: int = 30  # longer estimates are said as "more than N minutes"
    position_at_entry: bool = False  # also say the position (and wait) as soon as the caller joins

    def __post_init__(self) -> None:
        for name in ("position_every_s", "periodic_every_s", "callback_after_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise DomainError(f"{name} must be > 0, got {value}")
        if (self.periodic_prompt is None) != (self.periodic_every_s is None):
            raise DomainError("periodic_prompt and periodic_every_s go together")


@dataclass(frozen=True)
class Say:
    """One thing to tell the caller: a prompt, a position, or a wait in whole minutes."""

    prompt: str
    value: int | None = None  # position, or minutes for "wait-minutes" / "wait-more-than"


def wait_words(estimate: WaitEstimate, cap_min: int) -> Say | None:
    """The wait as the caller hears it: rounded up to minutes, or nothing when not confident."""
    if estimate.seconds is None or not estimate.confident:
        return None
    if estimate.seconds < 60:
        return Say("wait-less-than-a-minute")
    minutes = math.ceil(estimate.seconds / 60)
    return Say("wait-more-than", cap_min) if minutes > cap_min else Say("wait-minutes", minutes)


class Announcer:
    """One waiting caller's announcement timers; the controller calls due() when next_due() is reached."""

    def __init__(self, config: AnnouncementConfig, joined_at: float) -> None:
        self.config = config
        self.joined_at = joined_at
        self._next_position = joined_at + config.position_every_s if config.position_every_s else None
        self._next_periodic = joined_at + config.periodic_every_s if config.periodic_every_s else None
        self._entry_done = False
        self._callback_offered = False

    def next_due(self) -> float | None:
        """When the next announcement is due."""
        times = [t for t in (self._next_position, self._next_periodic, self._callback_at()) if t is not None]
        if not self._entry_done and (self.config.entry_prompt or self.config.position_at_entry):
            times.append(self.joined_at)
        return min(times) if times else None

    def _callback_at(self) -> float | None:
        if self._callback_offered or self.config.callback_after_s is None:
            return None
        return self.joined_at + self.config.callback_after_s

    def due(self, now: float, position: int, estimate: WaitEstimate) -> list[Say]:
        """Everything due at `now`, in the order to play it; timers re-armed."""
        cfg = self.config
        out: list[Say] = []
        if not self._entry_done:
            self._entry_done = True
            if cfg.entry_prompt:
                out.append(Say(cfg.entry_prompt))
            out += self._position(position, estimate)
        if self._next_position is not None and now >= self._next_position and cfg.position_every_s:
            if not out:
                out += self._position(position, estimate)
            while self._next_position <= now:
                self._next_position += cfg.position_every_s
        if self._next_periodic is not None and now >= self._next_periodic and cfg.periodic_every_s:
            out.append(Say(cfg.periodic_prompt or ""))
            while self._next_periodic <= now:
                self._next_periodic += cfg.periodic_every_s
        at = self._callback_at()
        if at is not None and now >= at:
            self._callback_offered = True
            out.append(Say(cfg.callback_prompt))
        return out

    def _position(self, position: int, estimate: WaitEstimate) -> list[Say]:
        if self.config.position_every_s is None:
            return []
        said = [Say("queue-position", position)]
        words = wait_words(estimate, self.config.max_wait_said_min)
        return said + ([words] if words else [])
