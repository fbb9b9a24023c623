"""Trunks, outbound routes and caller-ID rules: validated values, no I/O."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from enum import Enum

from appliance.domain.errors import DomainError

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
NUMBER = re.compile(r"^\+?[0-9]{1,20}$")
DIGITS = re.compile(r"^[0-9]{0,12}$")
USERNAME = re.compile(r"^[A-Za-z0-9_.+@-]{1,64}$")


class TrunkError(DomainError):
    """A trunk, route or rule breaks a rule; `field` says which input."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class TrunkKind(Enum):
    """How the trunk reaches the outside: an ITSP over SIP, or the GSM gateway."""

    SIP = "sip"
    GSM = "gsm"


class Transport(Enum):
    """SIP transport towards the trunk."""

    UDP = "udp"
    TCP = "tcp"


@dataclass(frozen=True)
class Trunk:
    """A SIP peer calls leave through and arrive from (an ITSP, or the GSM gateway)."""

    name: str
    kind: TrunkKind
    host: str
    port: int = 5060
    transport: Transport = Transport.UDP
    username: str | None = None  # digest credentials, used only to answer the trunk's challenge
    enabled: bool = True
    answer_timeout_s: float = 4.0  # no 18x/200 within this: the trunk is not answering
    health_check: bool = True  # send OPTIONS pings

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise TrunkError("name", "lower-case letters, digits, '-' or '_', 1-32 characters")
        if not _is_host(self.host):
            raise TrunkError("host", f"{self.host!r} is not an IP address or host name")
        if not 1 <= self.port <= 65535:
            raise TrunkError("port", "must be 1-65535")
        if self.username is not None and not USERNAME.match(self.username):
            raise TrunkError("username", "1-64 characters of letters, digits and _.+@-")
        if not 1.0 <= self.answer_timeout_s <= 60.0:
            raise TrunkError("answer_timeout_s", "must be between 1 and 60 seconds")

    @property
    def address(self) -> str:
        """host:port, as the edge sees the trunk's requests arrive (by IP)."""
        return f"{self.host}:{self.port}"

    def destination(self) -> str:
        """host:port;transport=x for the edge to relay a call to."""
        return f"{self.host}:{self.port};transport={self.transport.value}"


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(HOST.match(host)) and not host.replace(".", "").isdigit()


class CallerIdMode(Enum):
    """What the far end sees as the caller's number."""

    KEEP = "keep"  # the extension (or the number the caller presented)
    FIXED = "fixed"  # one number for every call (the office's main number)
    REWRITE = "rewrite"  # strip leading digits, then add a prefix


@dataclass(frozen=True)
class CallerIdRule:
    """A caller-ID rule for one trunk kind on one route."""

    mode: CallerIdMode = CallerIdMode.KEEP
    number: str = ""  # FIXED
    strip: int = 0  # REWRITE: leading digits removed
    prefix: str = ""  # REWRITE: then added in front

    def __post_init__(self) -> None:
        if self.mode is CallerIdMode.FIXED and not NUMBER.match(self.number):
            raise TrunkError("caller_id.number", "a fixed caller ID needs a number (digits, optional leading +)")
        if self.mode is not CallerIdMode.FIXED and self.number:
            raise TrunkError("caller_id.number", "only a fixed caller ID has a number")
        if not 0 <= self.strip <= 12:
            raise TrunkError("caller_id.strip", "0-12 digits")
        if self.prefix and not NUMBER.match(self.prefix):
            raise TrunkError("caller_id.prefix", "digits, optional leading +")
        if self.mode is not CallerIdMode.REWRITE and (self.strip or self.prefix):
            raise TrunkError("caller_id.mode", "strip and prefix apply to the rewrite mode only")

    def apply(self, caller: str) -> str:
        """The number presented for `caller`."""
        if self.mode is CallerIdMode.FIXED:
            return self.number
        if self.mode is CallerIdMode.REWRITE:
            return self.prefix + caller[self.strip:]
        return caller


@dataclass(frozen=True)
class OutboundRoute:
    """Numbers matching `pattern` leave over `trunks`, in order, with these caller-ID rules."""

    name: str
    pattern: str  # a full-match regular expression over the dialed digits
    trunks: tuple[str, ...]
    caller_id: dict[TrunkKind, CallerIdRule] = field(default_factory=dict)
    strip: int = 0  # leading digits removed from the dialed number (an outside-line 9)
    prepend: str = ""  # then added in front
    ring_seconds: int = 60
    record: bool = True
    priority: int = 100  # lower is tried first when several routes match

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise TrunkError("name", "lower-case letters, digits, '-' or '_', 1-32 characters")
        compile_pattern(self.pattern)
        if not self.trunks:
            raise TrunkError("trunks", "a route needs at least one trunk")
        if len(set(self.trunks)) != len(self.trunks):
            raise TrunkError("trunks", "a trunk appears twice")
        if not 0 <= self.strip <= 12:
            raise TrunkError("strip", "0-12 digits")
        if not DIGITS.match(self.prepend.lstrip("+")) or "+" in self.prepend[1:]:
            raise TrunkError("prepend", "digits, optional leading +")
        if not 5 <= self.ring_seconds <= 300:
            raise TrunkError("ring_seconds", "5-300 seconds")
        if not 0 <= self.priority <= 10000:
            raise TrunkError("priority", "0-10000")

    def matches(self, dialed: str) -> bool:
        """Whether `dialed` leaves by this route."""
        return re.fullmatch(self.pattern, dialed) is not None

    def number_to_send(self, dialed: str) -> str:
        """The dialed number as the trunk receives it."""
        return self.prepend + dialed[self.strip:]

    def caller_id_for(self, kind: TrunkKind, caller: str) -> str:
        """The caller ID presented on a trunk of `kind`."""
        return self.caller_id.get(kind, CallerIdRule()).apply(caller)


def compile_pattern(pattern: str, field_name: str = "pattern") -> re.Pattern[str]:
    """Compile a dial pattern; refuse empty, broken or catastrophic-looking ones."""
    if not pattern or len(pattern) > 200:
        raise TrunkError(field_name, "1-200 characters")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise TrunkError(field_name, f"not a valid regular expression: {exc}") from None
    if compiled.fullmatch(""):
        raise TrunkError(field_name, "must not match an empty number")
    return compiled


def check_routes(routes: list[OutboundRoute], trunks: dict[str, Trunk]) -> None:
    """Every route's trunks exist; route names are unique."""
    seen: set[str] = set()
    for r in routes:
        if r.name in seen:
            raise TrunkError("name", f"route {r.name!r} exists twice")
        seen.add(r.name)
        for t in r.trunks:
            if t not in trunks:
                raise TrunkError("trunks", f"unknown trunk {t!r} in route {r.name!r}")


def pick_route(routes: list[OutboundRoute], dialed: str) -> OutboundRoute | None:
    """The first route (by priority, then name) whose pattern matches `dialed`."""
    for r in sorted(routes, key=lambda r: (r.priority, r.name)):
        if r.matches(dialed):
            return r
    return None
