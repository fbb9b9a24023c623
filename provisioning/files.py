"""Which file a phone asks for: the URL names each vendor requests by MAC. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from provisioning.model import Vendor


class FileKind(StrEnum):
    """What a requested file is."""

    POLYCOM_BOOTSTRAP = "polycom_bootstrap"  # 000000000000.cfg, same for every phone
    MAC_CFG = "mac_cfg"  # <mac>.cfg: the account for most vendors, the master for Polycom
    ACCOUNT = "account"  # a vendor-specific per-MAC file with the SIP account


@dataclass(frozen=True)
class RequestedFile:
    """A parsed request path."""

    kind: FileKind
    mac: str | None
    vendor_hint: Vendor | None


_PATTERNS: tuple[tuple[re.Pattern[str], FileKind, Vendor | None], ...] = (
    (re.compile(r"^([0-9a-f]{12})-phone\.cfg$"), FileKind.ACCOUNT, Vendor.POLYCOM),
    (re.compile(r"^cfg([0-9a-f]{12})(?:\.xml)?$"), FileKind.ACCOUNT, Vendor.GRANDSTREAM),
    (re.compile(r"^spa([0-9a-f]{12})\.xml$"), FileKind.ACCOUNT, Vendor.CISCO),
    (re.compile(r"^([0-9a-f]{12})\.cfg$"), FileKind.MAC_CFG, None),
)


def parse_filename(name: str) -> RequestedFile | None:
    """Parse a requested file name; None when it is not a provisioning file we serve."""
    lowered = name.lower()
    if lowered == "000000000000.cfg":
        return RequestedFile(FileKind.POLYCOM_BOOTSTRAP, None, Vendor.POLYCOM)
    for pattern, kind, vendor in _PATTERNS:
        m = pattern.match(lowered)
        if m and m.group(1) != "000000000000":
            return RequestedFile(kind, m.group(1), vendor)
    return None
