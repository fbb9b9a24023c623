"""Restart backoff for supervised children."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    """Exponential backoff that resets after a child stayed up long enough."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    healthy_after_s: float = 60.0
    failures: int = 0

    def on_exit(self, ran_for_s: float) -> float:
        """A child exited after `ran_for_s`; return how long to wait before restarting it."""
        if ran_for_s >= self.healthy_after_s:
            self.failures = 0
        delay = min(self.max_s, self.initial_s * (self.factor**self.failures))
        self.failures += 1
        return delay
