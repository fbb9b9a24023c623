"""What provisioning needs from the rest of the appliance, as small protocols."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from provisioning.profile import SipAccount


class Clock(Protocol):
    """Wall-clock seconds; injected so tests advance time instead of sleeping."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        """Seconds since the epoch."""
        return time.time()


@dataclass(frozen=True)
class Colleague:
    """Another extension a phone shows on a BLF key."""

    extension: str
    name: str


class ExtensionDirectory(Protocol):
    """The foundation's extensions, as provisioning sees them."""

    async def prepare(self, extension: str) -> bool:
        """Make the extension's plain SIP password available; False if it does not exist."""
        ...

    async def account(self, extension: str) -> SipAccount | None:
        """The SIP account of an extension (with its plain password), or None."""
        ...

    async def colleagues(self, extension: str) -> list[Colleague]:
        """Extensions to show as BLF keys on this extension's phone, in key order."""
        ...


class RegisteredContacts(Protocol):
    """The registrar's view: where an extension's phone is reachable now."""

    async def contact_of(self, extension: str) -> str | None:
        """The registered Contact URI (e.g. 'sip:1001@192.0.2.7:5060'), or None."""
        ...


class CheckSyncSender(Protocol):
    """Tells a phone to fetch its configuration again."""

    async def check_sync(self, contact_uri: str, event: str) -> int | None:
        """Send a NOTIFY with `Event: <event>`; the final status code, or None on timeout."""
        ...


class StaticDirectory:
    """An in-memory ExtensionDirectory for demo mode and tests of the wiring."""

    def __init__(self, accounts: dict[str, SipAccount] | None = None) -> None:
        self.accounts: dict[str, SipAccount] = dict(accounts or {})

    async def prepare(self, extension: str) -> bool:
        """True if the extension exists (its password is already in memory)."""
        return extension in self.accounts

    async def account(self, extension: str) -> SipAccount | None:
        """The SIP account of an extension, or None."""
        return self.accounts.get(extension)

    async def colleagues(self, extension: str) -> list[Colleague]:
        """Every other extension, in number order."""
        return [
            Colleague(a.extension, a.display_name)
            for key, a in sorted(self.accounts.items())
            if key != extension
        ]
