"""Login rate limiting with lockout: pure, time passed in by the caller."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class LoginThrottle:
    """Counts failed logins per key (username, client address); too many in a window locks the key."""

    def __init__(self, max_failures: int = 5, window_s: float = 300.0, lockout_s: float = 900.0) -> None:
        if max_failures < 1 or window_s <= 0 or lockout_s <= 0:
            raise ValueError("max_failures, window_s and lockout_s must be positive")
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self._keys: dict[str, _Record] = {}

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until `key` may try again (0 when it may try now)."""
        rec = self._keys.get(key)
        if rec is None:
            return 0.0
        return max(0.0, rec.locked_until - now)

    def failed(self, key: str, now: float) -> bool:
        """Record a failure; True when it locks the key."""
        rec = self._keys.setdefault(key, _Record())
        while rec.failures and rec.failures[0] <= now - self.window_s:
            rec.failures.popleft()
        rec.failures.append(now)
        if len(rec.failures) >= self.max_failures:
            rec.locked_until = now + self.lockout_s
            rec.failures.clear()
            return True
        return False

    def succeeded(self, key: str) -> None:
        """Forget the failures of a key after a good login."""
        self._keys.pop(key, None)

    def prune(self, now: float) -> None:
        """Drop keys with nothing left to remember (bounds memory under a spray of names)."""
        for key in [k for k, r in self._keys.items() if r.locked_until <= now and (
            not r.failures or r.failures[-1] <= now - self.window_s)]:
            del self._keys[key]
