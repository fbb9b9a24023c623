"""The tone detector used by media tests tells tones apart and ignores silence."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

from tests.support.audio import dominant_frequency, has_tone, rms, tone_power, wav_duration


def write(path: Path, chans: list[list[int]], rate: int = 8000) -> str:
    frames = b"".join(struct.pack(f"<{len(chans)}h", *s) for s in zip(*chans, strict=True))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(chans))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return str(path)


def sine(freq: float, seconds: float, amp: int = 6000, rate: int = 8000) -> list[int]:
    return [int(amp * math.sin(2 * math.pi * freq * i / rate)) for i in range(int(seconds * rate))]


def test_goertzel_peaks_at_the_tone() -> None:
    s = sine(1000, 0.2)
    assert tone_power(s, 8000, 1000) > 100 * tone_power(s, 8000, 1200)
    assert tone_power([], 8000, 1000) == 0.0


def test_has_tone_per_channel_and_segment(tmp_path: Path) -> None:
    left = sine(700, 1.0) + [0] * 8000
    right = sine(1300, 2.0)
    path = write(tmp_path / "st.wav", [left, right])
    assert wav_duration(path) == 2.0
    assert has_tone(path, 700, 0.1, 0.9, channel=0)
    assert not has_tone(path, 700, 1.1, 1.9, channel=0)  # silence there
    assert not has_tone(path, 1300, 0.1, 0.9, channel=0)
    assert has_tone(path, 1300, channel=1)
    assert has_tone(path, 1300)  # any channel
    assert dominant_frequency(path, 0, 1, channel=1) == 1300
    assert rms(path, 1.1, 1.9, channel=0) == 0.0


def test_noise_and_mixtures_are_not_mistaken_for_a_pure_tone(tmp_path: Path) -> None:
    import random

    rnd = random.Random(1)
    noise = [rnd.randint(-8000, 8000) for _ in range(8000)]
    assert not has_tone(write(tmp_path / "n.wav", [noise]), 1000)
    mix = [a + b for a, b in zip(sine(500, 1.0, 4000), sine(1500, 1.0, 4000), strict=True)]
    path = write(tmp_path / "m.wav", [mix])
    assert has_tone(path, 500) and has_tone(path, 1500)  # more than 600 Hz apart
    assert not has_tone(path, 1000)
