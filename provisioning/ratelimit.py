"""Per-source token buckets so MAC addresses cannot be enumerated. Pure: time is passed in."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """A token bucket per key (source IP): `burst` misses at once, then `rate` per second."""

    def __init__(self, burst: int = 10, rate: float = 0.2, max_keys: int = 4096) -> None:
        if burst < 1 or rate <= 0 or max_keys < 1:
            raise ValueError("burst >= 1, rate > 0 and max_keys >= 1 are required")
        self.burst = burst
        self.rate = rate
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)  # forget the least recently used source
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
            self._buckets.move_to_end(key)
        return bucket

    def allowed(self, key: str, now: float) -> bool:
        """True while `key` has a token left; does not spend one."""
        return self._bucket(key, now).tokens >= 1.0

    def spend(self, key: str, now: float) -> None:
        """Spend one token of `key` (a miss: unknown MAC, bad credentials)."""
        bucket = self._bucket(key, now)
        bucket.tokens = max(0.0, bucket.tokens - 1.0)
