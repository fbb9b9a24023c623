"""The jitter buffer between the modem's PCM and the bridge clock, and the timing summary."""

from __future__ import annotations

import pytest

from firmware_bridge.voice.jitter import FRAME_BYTES, SILENCE, FrameQueue, interval_stats


def frame(n: int) -> bytes:
    return bytes([n % 256]) * FRAME_BYTES


def test_waits_for_the_prebuffer_then_plays_in_order() -> None:
    q = FrameQueue(prebuffer=2, max_depth=6)
    q.push(frame(1))
    assert q.pop() == SILENCE  # one frame is not enough yet
    q.push(frame(2))
    assert [q.pop(), q.pop()] == [frame(1), frame(2)]
    assert q.played == 2 and q.underruns == 0


def test_underrun_plays_silence_and_buffers_again() -> None:
    q = FrameQueue(prebuffer=2, max_depth=6)
    q.push(frame(1))
    q.push(frame(2))
    q.pop()
    q.pop()
    assert q.pop() == SILENCE and q.underruns == 1
    q.push(frame(3))
    assert q.pop() == SILENCE  # re-buffering: waits for two again
    q.push(frame(4))
    assert q.pop() == frame(3)


def test_delay_is_bounded_by_dropping_the_oldest() -> None:
    q = FrameQueue(prebuffer=1, max_depth=3)
    for n in range(10):
        q.push(frame(n))
    assert len(q) == 3 and q.dropped == 7
    assert q.pop() == frame(7)


def test_bad_frames_and_settings_are_refused() -> None:
    q = FrameQueue()
    with pytest.raises(ValueError):
        q.push(b"\x00" * 100)
    assert len(q) == 0 and q.pushed == 0
    with pytest.raises(ValueError):
        FrameQueue(prebuffer=0)
    with pytest.raises(ValueError):
        FrameQueue(prebuffer=5, max_depth=2)


def test_clear_forgets_buffered_audio() -> None:
    q = FrameQueue(prebuffer=1)
    q.push(frame(1))
    q.clear()
    assert q.pop() == SILENCE


def test_interval_stats() -> None:
    s = interval_stats([0.0, 0.020, 0.040, 0.070])
    assert s["count"] == 3
    assert s["mean_ms"] == pytest.approx(70 / 3)
    assert s["max_ms"] == pytest.approx(30.0)
    assert interval_stats([1.0])["count"] == 0
