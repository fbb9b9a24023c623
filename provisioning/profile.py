"""What a phone's configuration says, independent of vendor syntax. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from provisioning.model import ProvisioningError, Vendor

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SIP_TOKEN = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$")
_PRINTABLE_SECRET = re.compile(r"^[\x21-\x7e]+$")
_URL = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~\-/%]*)?")


class InvalidProfile(ProvisioningError):
    """A value cannot be written into a phone configuration."""

    error_id = "invalid_profile"


def clean_text(text: str, limit: int = 64) -> str:
    """Make a display name safe for any file format: no control characters or line breaks."""
    return _CONTROL.sub(" ", text).strip()[:limit]


class Transport(StrEnum):
    """SIP transport towards the appliance."""

    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


class KeyKind(StrEnum):
    """What a programmable line key does."""

    BLF = "blf"  # busy lamp field on a colleague's extension
    SPEED_DIAL = "speed_dial"  # dials a number or feature code


@dataclass(frozen=True)
class LineKey:
    """One programmable key: a colleague's BLF or a feature-code speed dial."""

    kind: KeyKind
    value: str
    label: str

    def __post_init__(self) -> None:
        if not self.value or not re.fullmatch(r"[0-9*#+A-Za-z.\-_]+", self.value):
            raise InvalidProfile(f"line key value must be a dialable string: {self.value!r}")
        object.__setattr__(self, "label", clean_text(self.label, 32))


@dataclass(frozen=True)
class SipAccount:
    """The SIP account a phone registers with (secrets included: never log this)."""

    extension: str
    display_name: str
    sip_user: str
    sip_password: str = field(repr=False)
    auth_user: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9A-Za-z_.\-]{1,32}", self.extension):
            raise InvalidProfile(f"bad extension {self.extension!r}")
        if not _SIP_TOKEN.match(self.sip_user) or len(self.sip_user) > 64:
            raise InvalidProfile("SIP user must be a SIP URI user token")
        if not _PRINTABLE_SECRET.match(self.sip_password) or len(self.sip_password) > 128:
            raise InvalidProfile("SIP password must be printable ASCII without spaces")
        object.__setattr__(self, "display_name", clean_text(self.display_name))
        if not self.auth_user:
            object.__setattr__(self, "auth_user", self.sip_user)
        elif not _SIP_TOKEN.match(self.auth_user):
            raise InvalidProfile("auth user must be a SIP URI user token")


@dataclass(frozen=True)
class SiteSettings:
    """Settings shared by every phone of the site."""

    sip_host: str
    provisioning_url: str
    sip_port: int = 5060
    transport: Transport = Transport.UDP
    keepalive_seconds: int = 30
    ntp_server: str = "pool.ntp.org"
    timezone: str = "UTC"
    language: str = "en"
    digit_map: str = "[2-9]xxx|0x.T|00x.T|*xx|*xxxx"
    voicemail_code: str = "*97"
    queue_login_code: str = "*45"
    queue_logout_code: str = "*46"
    queue_pause_code: str = "*47"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9.\-:\[\]]+", self.sip_host):
            raise InvalidProfile(f"bad SIP host {self.sip_host!r}")
        if not 0 < self.sip_port < 65536:
            raise InvalidProfile(f"bad SIP port {self.sip_port}")
        if not self.provisioning_url.startswith(("http://", "https://")):
            raise InvalidProfile("provisioning URL must be http(s)")
        if not _URL.fullmatch(self.provisioning_url):
            raise InvalidProfile("provisioning URL: host, port and path characters only")
        if _CONTROL.search(self.digit_map):
            raise InvalidProfile("digit map must be one line")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidProfile(f"unknown time zone {self.timezone!r}") from None

    def utc_offsets(self) -> tuple[int, int]:
        """Return (standard, summer) UTC offsets in seconds for the site's time zone."""
        zone = ZoneInfo(self.timezone)
        jan = datetime(2025, 1, 15, 12, tzinfo=zone).utcoffset()
        jul = datetime(2025, 7, 15, 12, tzinfo=zone).utcoffset()
        assert jan is not None and jul is not None
        a, b = int(jan.total_seconds()), int(jul.total_seconds())
        return min(a, b), max(a, b)

    def feature_keys(self) -> list[LineKey]:
        """Speed-dial keys for queue log-in, log-out and pause."""
        return [
            LineKey(KeyKind.SPEED_DIAL, self.queue_login_code, "Queue login"),
            LineKey(KeyKind.SPEED_DIAL, self.queue_logout_code, "Queue logout"),
            LineKey(KeyKind.SPEED_DIAL, self.queue_pause_code, "Pause"),
        ]


@dataclass(frozen=True)
class ProvisioningCredentials:
    """HTTP credentials the phone uses for its next config fetches (secret)."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class PhoneProfile:
    """Everything one phone's config files say."""

    vendor: Vendor
    model: str
    mac: str
    account: SipAccount
    site: SiteSettings
    keys: tuple[LineKey, ...] = ()
    credentials: ProvisioningCredentials | None = None

    @property
    def is_ata(self) -> bool:
        """Analogue adapters (Cisco SPA112/122, ATA19x) have no line keys."""
        return self.model.upper().startswith(("SPA1", "ATA", "SPA2"))

    def utc_offset_hours(self) -> str:
        """Standard UTC offset as '+2', '-5', '+5.5' (Yealink, Fanvil style)."""
        std, _ = self.site.utc_offsets()
        hours = std / 3600
        text = f"{hours:+.2f}".rstrip("0").rstrip(".")
        return text

    def gmt_offset_hhmm(self) -> str:
        """Standard UTC offset as 'GMT+02:00' (Cisco style)."""
        std, _ = self.site.utc_offsets()
        sign = "+" if std >= 0 else "-"
        minutes = abs(std) // 60
        return f"GMT{sign}{minutes // 60:02d}:{minutes % 60:02d}"

    def has_summer_time(self) -> bool:
        """True when the site's time zone changes clocks in summer."""
        std, summer = self.site.utc_offsets()
        return std != summer
