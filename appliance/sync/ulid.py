"""ULID generator (26 chars, Crockford base32) with injected clock and randomness.

Monotonic within one generator: when two ids fall in the same millisecond the random
part is incremented, so ids sort in creation order.
"""

from __future__ import annotations

import re

from appliance.sync.clock import Clock, RandomBytes, system_random_bytes

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_RE = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
_RAND_MAX = (1 << 80) - 1


def encode_ulid(ms: int, rand: int) -> str:
    """Encode a 48-bit millisecond time and 80-bit random part as a ULID string."""
    if not 0 <= ms < (1 << 48):
        raise ValueError(f"ULID time out of range: {ms}")
    if not 0 <= rand <= _RAND_MAX:
        raise ValueError("ULID random part out of range")
    value = (ms << 80) | rand
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def ulid_time_ms(ulid: str) -> int:
    """Return the millisecond timestamp encoded in a ULID."""
    if not ULID_RE.match(ulid):
        raise ValueError(f"not a ULID: {ulid!r}")
    value = 0
    for ch in ulid:
        value = (value << 5) | _ALPHABET.index(ch)
    return value >> 80


class UlidGenerator:
    """Produces monotonic ULIDs from an injected clock and random source."""

    def __init__(self, clock: Clock, random_bytes: RandomBytes = system_random_bytes) -> None:
        self._clock = clock
        self._random_bytes = random_bytes
        self._last_ms = -1
        self._last_rand = 0

    def new(self) -> str:
        """Return the next ULID."""
        ms = int(self._clock.now() * 1000)
        if ms <= self._last_ms:
            # Same (or earlier: clock stepped back) millisecond: keep order by incrementing.
            ms = self._last_ms
            rand = self._last_rand + 1
            if rand > _RAND_MAX:
                ms += 1
                rand = int.from_bytes(self._random_bytes(10), "big")
        else:
            rand = int.from_bytes(self._random_bytes(10), "big")
        self._last_ms, self._last_rand = ms, rand
        return encode_ulid(ms, rand)
