"""Per-node sequence tracking on the fleet side (pure): gaps and lost ranges."""

from __future__ import annotations


class SeqTracker:
    """Everything up to `floor` was received; `above` holds seqs received past a hole."""

    def __init__(self, floor: int = 0) -> None:
        self.floor = floor
        self.above: set[int] = set()

    def observe(self, seq: int) -> None:
        """Record a received durable sequence number (duplicates and old ones are harmless)."""
        if seq <= self.floor:
            return
        self.above.add(seq)
        while self.floor + 1 in self.above:
            self.floor += 1
            self.above.discard(self.floor)

    def gaps(self) -> list[tuple[int, int]]:
        """Missing inclusive ranges between the floor and the highest seq received."""
        out: list[tuple[int, int]] = []
        start = self.floor + 1
        for seq in sorted(self.above):
            if seq > start:
                out.append((start, seq - 1))
            start = seq + 1
        return out

    def skip_below(self, first_pending: int) -> list[tuple[int, int]]:
        """The box no longer holds seqs below `first_pending`: give up on them, return them."""
        end = first_pending - 1
        lost: list[tuple[int, int]] = []
        start = self.floor + 1
        for seq in sorted(s for s in self.above if s <= end):
            if seq > start:
                lost.append((start, seq - 1))
            start = seq + 1
        if start <= end:
            lost.append((start, end))
        if end > self.floor:
            self.floor = end
            self.above = {s for s in self.above if s > end}
            self.observe(end)
            while self.floor + 1 in self.above:
                self.floor += 1
                self.above.discard(self.floor)
        return lost

    @property
    def high(self) -> int:
        """Highest sequence number received."""
        return max([self.floor, *self.above])
