"""Provisioning domain: MAC addresses, vendors, the device state machine. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum


class ProvisioningError(Exception):
    """Base class of provisioning domain errors; carries a stable error id."""

    error_id = "provisioning_error"


class InvalidMac(ProvisioningError):
    """The text is not a MAC address."""

    error_id = "invalid_mac"


class IllegalTransition(ProvisioningError):
    """The device cannot go from its state by this event."""

    error_id = "illegal_transition"


class DeviceNotFound(ProvisioningError):
    """No device row for this MAC."""

    error_id = "device_not_found"


class UnknownExtension(ProvisioningError):
    """The extension does not exist in the directory."""

    error_id = "unknown_extension"


_MAC_CHARS = re.compile(r"[^0-9a-f]")


def normalize_mac(text: str) -> str:
    """Return the MAC as 12 lower-case hex digits; accepts ':', '-', '.' separators."""
    cleaned = text.strip().lower()
    if cleaned.startswith("mac:"):
        cleaned = cleaned[4:]
    digits = re.sub(r"[:\-.]", "", cleaned)
    if len(digits) != 12 or _MAC_CHARS.search(digits):
        raise InvalidMac(f"not a MAC address: {text!r}")
    if digits == "000000000000":
        raise InvalidMac("the all-zero MAC names the bootstrap file, not a phone")
    return digits


class Vendor(StrEnum):
    """Phone families with a template of their own."""

    YEALINK = "yealink"
    POLYCOM = "polycom"
    GRANDSTREAM = "grandstream"
    FANVIL = "fanvil"
    CISCO = "cisco"
    GENERIC = "generic"


# (vendor, user-agent pattern); the first match wins. Model is the first group when present.
_UA_PATTERNS: tuple[tuple[Vendor, re.Pattern[str]], ...] = (
    (Vendor.YEALINK, re.compile(r"yealink\s+(?:sip-)?([a-z0-9-]+)", re.I)),
    (Vendor.POLYCOM, re.compile(r"polycom(?:vvx)?-?(?:vvx_)?([a-z0-9_]*)", re.I)),
    (Vendor.GRANDSTREAM, re.compile(r"grandstream\s+model\s+hw\s+([a-z0-9]+)", re.I)),
    (Vendor.GRANDSTREAM, re.compile(r"grandstream\s*([a-z0-9]*)", re.I)),
    (Vendor.FANVIL, re.compile(r"fanvil\s+([a-z0-9]+)", re.I)),
    (Vendor.CISCO, re.compile(r"(?:cisco|linksys|sipura)[/\s-]*([a-z0-9]*)", re.I)),
)


def guess_vendor(user_agent: str) -> tuple[Vendor, str]:
    """Guess (vendor, model) from an HTTP User-Agent; unknown gives (GENERIC, '')."""
    for vendor, pattern in _UA_PATTERNS:
        m = pattern.search(user_agent)
        if m:
            model = (m.group(1) or "").strip("-_").upper()
            return vendor, model
    return Vendor.GENERIC, ""


class State(StrEnum):
    """Where a device is in its life: seen, assigned to an extension, or revoked."""

    PENDING = "pending"
    ASSIGNED = "assigned"
    REVOKED = "revoked"


class Event(StrEnum):
    """What the admin does to a device."""

    ASSIGN = "assign"
    REVOKE = "revoke"


_TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.PENDING, Event.ASSIGN): State.ASSIGNED,
    (State.ASSIGNED, Event.ASSIGN): State.ASSIGNED,  # move the phone to another extension
    (State.REVOKED, Event.ASSIGN): State.ASSIGNED,
    (State.ASSIGNED, Event.REVOKE): State.REVOKED,
}


def next_state(state: State, event: Event) -> State:
    """The one transition function of a device; illegal transitions raise."""
    try:
        return _TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(f"cannot {event.value} a device that is {state.value}") from None


@dataclass(frozen=True)
class Device:
    """A phone the appliance has seen, as stored."""

    mac: str
    vendor: Vendor
    model: str
    state: State
    extension: str | None
    http_username: str | None
    http_password_hash: str | None
    token_hash: str | None
    token_expires: float | None
    first_seen: float
    last_seen: float
    last_ip: str | None
    user_agent: str | None = None
    enroll_ip: str | None = None
    enroll_until: float | None = None

    def assigned(self, extension: str, username: str, password_hash: str) -> Device:
        """Return this device assigned to `extension` with the given HTTP credentials."""
        state = next_state(self.state, Event.ASSIGN)
        return replace(
            self, state=state, extension=extension,
            http_username=username, http_password_hash=password_hash,
        )

    def revoked(self) -> Device:
        """Return this device with its credentials and enrollment token withdrawn."""
        state = next_state(self.state, Event.REVOKE)
        return replace(
            self, state=state, http_username=None, http_password_hash=None,
            token_hash=None, token_expires=None, enroll_ip=None, enroll_until=None,
        )
