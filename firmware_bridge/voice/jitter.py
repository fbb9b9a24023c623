"""A small jitter buffer between the modem's PCM port and the conference bridge clock.

The modem delivers 20 ms frames on its own clock; the bridge asks for one every 20 ms on
another. `FrameQueue` holds a few frames: it waits for `prebuffer` frames before it
plays, plays silence (and re-buffers) on an underrun, and drops the oldest frames beyond
`max_depth` so the added delay stays bounded. Pure: push and pop are plain deque
operations, safe between the asyncio thread and the bridge thread under the GIL.
"""

from __future__ import annotations

import collections
import itertools

FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono
SILENCE = bytes(FRAME_BYTES)


class FrameQueue:
    """Frames from the modem waiting for the bridge."""

    def __init__(self, prebuffer: int = 2, max_depth: int = 6) -> None:
        if not 0 < prebuffer <= max_depth:
            raise ValueError("need 0 < prebuffer <= max_depth")
        self.prebuffer = prebuffer
        self.max_depth = max_depth
        self._frames: collections.deque[bytes] = collections.deque()
        self._playing = False
        self.pushed = 0
        self.played = 0
        self.underruns = 0  # a frame was due and none was there (silence played)
        self.dropped = 0  # frames thrown away to keep the delay bounded

    def __len__(self) -> int:
        return len(self._frames)

    def push(self, frame: bytes) -> None:
        """Add one frame from the modem (must be FRAME_BYTES long)."""
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"a PCM frame is {FRAME_BYTES} bytes, got {len(frame)}")
        self._frames.append(frame)
        self.pushed += 1
        while len(self._frames) > self.max_depth:
            self._frames.popleft()
            self.dropped += 1

    def pop(self) -> bytes:
        """The next frame for the bridge: audio, or silence while (re-)buffering."""
        if not self._playing:
            if len(self._frames) < self.prebuffer:
                return SILENCE
            self._playing = True
        try:
            frame = self._frames.popleft()
        except IndexError:
            self._playing = False
            self.underruns += 1
            return SILENCE
        self.played += 1
        return frame

    def clear(self) -> None:
        """Forget what is buffered (a call ended)."""
        self._frames.clear()
        self._playing = False


def interval_stats(times: list[float]) -> dict[str, float]:
    """Spacing of consecutive timestamps (seconds) as count, mean, stdev and max in ms."""
    gaps = [(b - a) * 1000.0 for a, b in itertools.pairwise(times)]
    if not gaps:
        return {"count": 0, "mean_ms": 0.0, "stdev_ms": 0.0, "max_ms": 0.0}
    mean = sum(gaps) / len(gaps)
    var = sum((g - mean) ** 2 for g in gaps) / len(gaps)
    return {"count": len(gaps), "mean_ms": mean, "stdev_ms": var ** 0.5, "max_ms": max(gaps)}
