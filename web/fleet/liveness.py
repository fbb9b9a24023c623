"""Fleet-side liveness: a dead box is shown offline within 1.5 x its keepalive.

The broker's Will alone is too slow on some brokers (Debian's mosquitto 2.0.11 sweeps
keepalives only every ~5 s), so the fleet keeps its own watch. A box announces its
keepalive in its birth and sends a heartbeat (its retained `state`) every keepalive/3;
anything heard from it counts. The fleet calls a box offline after 1.4 x keepalive of
silence: the last word came at or before the death, and the remaining 0.1 x keepalive
covers the fleet's own work (waking, writing the store), so the box is shown offline
within 1.5 x keepalive of dying, while a live box may still miss four heartbeats.
Pure: time comes in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

SILENCE = 1.4  # x keepalive without a word before the fleet calls a box offline


@dataclass
class _Watch:
    keepalive: float | None
    last_heard: float
    alive: bool = True


class Liveness:
    """Tracks when each box was last heard and which ones have gone silent."""

    def __init__(self, default_keepalive: float | None = None) -> None:
        self._default = default_keepalive
        self._boxes: dict[str, _Watch] = {}

    def announce(self, node: str, keepalive: float | None, now: float) -> None:
        """A birth told us the box's keepalive (None or <= 0: not watched, the Will decides)."""
        ka = keepalive if keepalive is not None and keepalive > 0 else None
        self._boxes[node] = _Watch(ka, now)

    def heard(self, node: str, now: float) -> bool:
        """Anything arrived from the box; True when this brings a silent box back."""
        w = self._boxes.get(node)
        if w is None:
            self._boxes[node] = _Watch(self._default, now)
            return False
        w.last_heard = max(w.last_heard, now)
        back = not w.alive
        w.alive = True
        return back

    def gone(self, node: str) -> None:
        """The box said it is offline (Will or clean stop): nothing left to watch for."""
        w = self._boxes.get(node)
        if w is not None:
            w.alive = False

    def deadline(self, node: str) -> float | None:
        """When the box will count as silent, or None when it is not watched."""
        w = self._boxes.get(node)
        if w is None or w.keepalive is None or not w.alive:
            return None
        return w.last_heard + SILENCE * w.keepalive

    def next_deadline(self) -> float | None:
        """The earliest deadline over all watched boxes."""
        times = [d for d in (self.deadline(n) for n in self._boxes) if d is not None]
        return min(times, default=None)

    def expire(self, now: float) -> list[str]:
        """Boxes silent past their deadline, each reported once (until heard again)."""
        out = []
        for node in sorted(self._boxes):
            d = self.deadline(node)
            if d is not None and now > d:
                self._boxes[node].alive = False
                out.append(node)
        return out
