"""Per-device HTTP credentials and one-time enrollment tokens."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


def new_password() -> str:
    """A random HTTP password (about 128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def new_token() -> str:
    """A random enrollment token (about 192 bits, URL-safe)."""
    return secrets.token_urlsafe(24)


def token_digest(token: str) -> str:
    """SHA-256 of a token: tokens are long random strings, so a fast hash is enough."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode(), b.encode())


class PasswordVault:
    """argon2 hashing of HTTP passwords, off the event loop."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

    async def hash(self, password: str) -> str:
        """The argon2 hash of `password`."""
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        """True if `password` matches `password_hash`."""
        try:
            return await asyncio.to_thread(self._hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
