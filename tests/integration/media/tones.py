"""Which test tones a phone heard, relative to the loudest one (mixes hold several tones)."""

from __future__ import annotations

from pathlib import Path

from tests.support.audio import read_wav, tone_power

# -20 dB below the loudest test tone: a mixed-in party is near 0 dB, G.711 leakage of
# another tone measured ~-55 dB.
HEARD_RATIO = 0.01


def heard_tones(path: Path | str, freqs: tuple[int, ...], start_s: float = 0.3, end_s: float = 1.3) -> set[int]:
    """The tones among `freqs` present in the WAV between start_s and end_s."""
    wav = read_wav(str(path))
    seg = wav.channels[0][int(start_s * wav.rate) : int(end_s * wav.rate)]
    if not seg:
        return set()
    powers = {f: tone_power(seg, wav.rate, f) for f in freqs}
    loudest = max(powers.values())
    if loudest <= 0:
        return set()
    return {f for f, pw in powers.items() if pw >= HEARD_RATIO * loudest}
