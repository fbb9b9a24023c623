"""Audio checks for tests, stdlib only: read WAVs, Goertzel tone power, tone presence."""

from __future__ import annotations

import math
import struct
import wave
from dataclasses import dataclass


@dataclass(frozen=True)
class Wav:
    """Decoded 16-bit PCM WAV: one list of samples per channel."""

    rate: int
    channels: list[list[int]]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.channels[0]) / self.rate if self.channels else 0.0


def read_wav(path: str) -> Wav:
    """Read a 16-bit PCM WAV file (mono or multi-channel)."""
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM is supported")
        n, nch, rate = w.getnframes(), w.getnchannels(), w.getframerate()
        raw = w.readframes(n)
    samples = struct.unpack(f"<{len(raw) // 2}h", raw)
    return Wav(rate, [list(samples[c::nch]) for c in range(nch)])


def wav_duration(path: str) -> float:
    """Duration of a WAV file in seconds."""
    with wave.open(path, "rb") as w:
        return w.getnframes() / float(w.getframerate())


def tone_power(samples: list[int], rate: int, freq: float) -> float:
    """Goertzel power of `freq` in `samples`, normalised by the sample count."""
    n = len(samples)
    if n == 0:
        return 0.0
    coeff = 2.0 * math.cos(2.0 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2, s1 = s1, s0
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / n


def _segment(path: str, start_s: float, end_s: float | None, channel: int | None) -> Wav:
    wav = read_wav(path)
    a = int(start_s * wav.rate)
    b = len(wav.channels[0]) if end_s is None else int(end_s * wav.rate)
    chans = wav.channels if channel is None else [wav.channels[channel]]
    return Wav(wav.rate, [c[a:b] for c in chans])


def dominant_frequency(
    path: str, start_s: float = 0.0, end_s: float | None = None, channel: int | None = None,
    candidates: range = range(200, 3801, 50),
) -> float:
    """The candidate frequency (Hz) with the most power in the segment (channel 0 if None)."""
    seg = _segment(path, start_s, end_s, 0 if channel is None else channel)
    samples = seg.channels[0]
    return float(max(candidates, key=lambda f: tone_power(samples, seg.rate, f)))


def has_tone(
    path: str, freq: float, start_s: float = 0.0, end_s: float | None = None,
    channel: int | None = None, ratio: float = 10.0, min_rms: float = 100.0,
) -> bool:
    """True if `freq` clearly dominates its neighbours (±200..±600 Hz) in the segment.

    `channel=None` checks every channel and requires the tone in at least one.
    """
    seg = _segment(path, start_s, end_s, channel)
    for samples in seg.channels:
        if not samples:
            continue
        rms = math.sqrt(sum(x * x for x in samples) / len(samples))
        if rms < min_rms:
            continue
        target = tone_power(samples, seg.rate, freq)
        neighbours = [
            f for f in (freq - 600, freq - 400, freq - 200, freq + 200, freq + 400, freq + 600)
            if 50 < f < seg.rate / 2
        ]
        worst = max(tone_power(samples, seg.rate, f) for f in neighbours)
        if target > ratio * max(worst, 1e-9):
            return True
    return False


def rms(path: str, start_s: float = 0.0, end_s: float | None = None, channel: int = 0) -> float:
    """Root-mean-square level of a segment (0 for digital silence)."""
    samples = _segment(path, start_s, end_s, channel).channels[0]
    return math.sqrt(sum(x * x for x in samples) / len(samples)) if samples else 0.0
