"""Toll-fraud limits: who may call which external numbers, and how often. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from appliance.trunks.model import DIGITS, TrunkError, compile_pattern


class PermissionClass(Enum):
    """What an extension may dial outside, from nothing to everything."""

    INTERNAL = "internal"  # no external calls
    LOCAL = "local"
    NATIONAL = "national"
    INTERNATIONAL = "international"
    PREMIUM = "premium"  # premium-rate numbers too

    @property
    def rank(self) -> int:
        """Order of the classes: a higher class may do all a lower one may."""
        return list(PermissionClass).index(self)


@dataclass(frozen=True)
class BlockedPrefix:
    """Numbers starting with `prefix` need at least class `needs`."""

    prefix: str
    needs: PermissionClass

    def __post_init__(self) -> None:
        if not self.prefix or not DIGITS.match(self.prefix.lstrip("+")):
            raise TrunkError("blocked.prefix", "1-12 digits, optional leading +")


# A sensible start: international (00 / +) and premium-rate (09xx, 1900) need their class.
DEFAULT_BLOCKED = (
    BlockedPrefix("00", PermissionClass.INTERNATIONAL),
    BlockedPrefix("+", PermissionClass.INTERNATIONAL),
    BlockedPrefix("1900", PermissionClass.PREMIUM),
    BlockedPrefix("09", PermissionClass.PREMIUM),
)


@dataclass(frozen=True)
class TollPolicy:
    """The box's toll-fraud limits."""

    allowed_patterns: tuple[str, ...] = (r"[0-9+]{3,20}",)  # anything else is refused
    blocked: tuple[BlockedPrefix, ...] = DEFAULT_BLOCKED
    default_class: PermissionClass = PermissionClass.NATIONAL
    classes: dict[str, PermissionClass] = field(default_factory=dict)  # extension -> class
    max_calls_per_hour: int = 30  # external call attempts per extension in any rolling hour

    def __post_init__(self) -> None:
        if not self.allowed_patterns:
            raise TrunkError("allowed_patterns", "at least one pattern (external calls are refused otherwise)")
        for p in self.allowed_patterns:
            compile_pattern(p, "allowed_patterns")
        if not 1 <= self.max_calls_per_hour <= 10000:
            raise TrunkError("max_calls_per_hour", "1-10000")

    def class_of(self, extension: str) -> PermissionClass:
        """The extension's permission class."""
        return self.classes.get(extension, self.default_class)


@dataclass(frozen=True)
class TollVerdict:
    """Allowed, or refused with a SIP code and a CDR cause."""

    allowed: bool
    cause: str = ""
    code: int = 0
    detail: str = ""


ALLOWED = TollVerdict(True)


def check_call(policy: TollPolicy, extension: str, dialed: str, calls_last_hour: int) -> TollVerdict:
    """May `extension` call `dialed` now, having placed `calls_last_hour` external calls?"""
    cls = policy.class_of(extension)
    if cls is PermissionClass.INTERNAL:
        return TollVerdict(False, "toll_no_external", 403, f"{extension} may not call outside")
    if not any(re.fullmatch(p, dialed) for p in policy.allowed_patterns):
        return TollVerdict(False, "toll_not_allowed", 403, f"{dialed} matches no allowed destination")
    for b in sorted(policy.blocked, key=lambda b: -len(b.prefix)):
        if dialed.startswith(b.prefix) and cls.rank < b.needs.rank:
            return TollVerdict(
                False, "toll_blocked_prefix", 403,
                f"{dialed} starts with {b.prefix}, which needs class {b.needs.value} ({extension} has {cls.value})",
            )
    if calls_last_hour >= policy.max_calls_per_hour:
        return TollVerdict(
            False, "toll_rate_limit", 403,
            f"{extension} placed {calls_last_hour} external calls in the last hour (limit {policy.max_calls_per_hour})",
        )
    return ALLOWED
