"""Render a PhoneProfile into each vendor's config file syntax (Jinja2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import TZPATH

import jinja2

from provisioning.model import Vendor
from provisioning.profile import KeyKind, LineKey, PhoneProfile, SiteSettings, Transport

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class ConfigFile:
    """One rendered file as the phone downloads it."""

    name: str
    media_type: str
    body: str
    carries_secrets: bool

    def __repr__(self) -> str:
        # The body holds SIP passwords: keep it out of logs and tracebacks.
        return f"ConfigFile(name={self.name!r}, bytes={len(self.body)})"


def _one_line(value: Any) -> Any:
    """Every interpolated value ends on its own line: no control characters survive."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _CONTROL.sub(" ", value)
    return value


def _autoescape(name: str | None) -> bool:
    return name is not None and ".xml" in name


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared template environment: XML autoescaped, undefined names are errors."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        finalize=_one_line,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


_LANG = {
    Vendor.YEALINK: {"en": "English", "he": "Hebrew", "ar": "Arabic", "pl": "Polish",
                     "zh": "Chinese_S", "fr": "French", "de": "German", "ru": "Russian",
                     "es": "Spanish"},
    Vendor.POLYCOM: {"en": "English_United_States", "zh": "Chinese_China",
                     "fr": "French_France", "de": "German_Germany", "pl": "Polish_Poland",
                     "ru": "Russian_Russia", "es": "Spanish_Spain"},
    Vendor.GRANDSTREAM: {"en": "en", "he": "he", "ar": "ar", "pl": "pl", "zh": "zh",
                         "fr": "fr", "de": "de", "ru": "ru", "es": "es"},
    Vendor.FANVIL: {"en": "en", "he": "he", "ar": "ar", "pl": "pl", "zh": "cn",
                    "fr": "fr", "de": "de", "ru": "ru", "es": "es"},
    Vendor.CISCO: {"en": "English", "fr": "French", "de": "German", "es": "Spanish"},
}


def vendor_language(vendor: Vendor, code: str) -> str:
    """The vendor's name for a language code; English when the phone has no such language."""
    table = _LANG.get(vendor, {})
    return table.get(code, table.get("en", code))


def posix_tz(zone: str) -> str:
    """The POSIX TZ rule of an IANA zone, from the footer of its TZif file ('UTC0' if none)."""
    for base in TZPATH:
        path = Path(base) / zone
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if data[:4] == b"TZif" and data.endswith(b"\n"):
            footer = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
            text = footer.decode("ascii", "replace")
            if text and not _CONTROL.search(text):
                return text
    return "UTC0"


def _cisco_dial_plan(digit_map: str) -> str:
    return f"({digit_map})"


def _mac_filename(vendor: Vendor, mac: str) -> str:
    return {
        Vendor.GRANDSTREAM: f"cfg{mac}.xml",
        Vendor.CISCO: f"spa{mac}.xml",
        Vendor.POLYCOM: f"{mac}-phone.cfg",
    }.get(vendor, f"{mac}.cfg")


@dataclass(frozen=True)
class _Mpk:
    index: int
    mode: int
    label: str
    value: str
    p_mode: int
    p_account: int
    p_name: int
    p_value: int


def _grandstream_mpk(keys: tuple[LineKey, ...]) -> list[_Mpk]:
    # GXP multi-purpose keys 1..7: mode P323.., then (account, name, value) P301.. in threes.
    out = []
    for i, key in enumerate(keys[:7], start=1):
        base = 298 + 3 * i
        out.append(_Mpk(i, 1 if key.kind is KeyKind.BLF else 0, key.label, key.value,
                        322 + i, base, base + 1, base + 2))
    return out


def _vendor_vars(p: PhoneProfile) -> dict[str, Any]:
    site = p.site
    https = site.provisioning_url.startswith("https://")
    lang = vendor_language(p.vendor, site.language)
    std, _ = site.utc_offsets()
    if p.vendor is Vendor.YEALINK:
        return {"transport": {Transport.UDP: 0, Transport.TCP: 1, Transport.TLS: 2}[site.transport],
                "language": lang}
    if p.vendor is Vendor.POLYCOM:
        return {
            "transport": {Transport.UDP: "UDPOnly", Transport.TCP: "TCPOnly",
                          Transport.TLS: "TLS"}[site.transport],
            "language": lang,
            "gmt_offset_seconds": std,
            "server_type": 3 if https else 2,
            "blf_keys": [k for k in p.keys if k.kind is KeyKind.BLF],
            "speed_keys": [k for k in p.keys if k.kind is KeyKind.SPEED_DIAL],
        }
    if p.vendor is Vendor.GRANDSTREAM:
        parts = urlsplit(site.provisioning_url)
        return {
            "transport": {Transport.UDP: 0, Transport.TCP: 1, Transport.TLS: 2}[site.transport],
            "language": lang,
            "posix_tz": posix_tz(site.timezone),
            "dial_plan": "{" + site.digit_map + "}",
            "upgrade_via": 2 if https else 1,
            "config_path": parts.netloc + parts.path.rstrip("/"),
            "mpk": _grandstream_mpk(p.keys),
        }
    if p.vendor is Vendor.FANVIL:
        return {
            "transport": {Transport.UDP: 0, Transport.TCP: 1, Transport.TLS: 3}[site.transport],
            "language": lang,
            "timezone_minutes": std // 60,
            "flash_protocol": 5 if https else 4,
        }
    if p.vendor is Vendor.CISCO:
        profile_url = site.provisioning_url.rstrip("/") + "/spa$MA.xml"
        rule = profile_url
        if p.credentials:
            creds = p.credentials
            rule = f"[--uid {creds.username} --pwd {creds.password}]{profile_url}"

        def extended_function(key: LineKey) -> str:
            # ';' and '=' separate the fields of this syntax: keep them out of the name.
            target = f"{key.value}@{site.sip_host}"
            name = re.sub(r"[;=]", " ", key.label)
            if key.kind is KeyKind.BLF:
                return f"fnc=blf+sd+cp;sub={target};nme={name}"
            return f"fnc=sd;ext={target};nme={name}"

        return {
            "transport": site.transport.value.upper(),
            "language": lang,
            "dial_plan": _cisco_dial_plan(site.digit_map),
            "profile_rule": rule,
            "extended_function": extended_function,
        }
    return {}


_TEMPLATE = {
    Vendor.YEALINK: ("yealink.cfg.j2", "text/plain; charset=utf-8"),
    Vendor.POLYCOM: ("polycom-phone.xml.j2", "application/xml; charset=utf-8"),
    Vendor.GRANDSTREAM: ("grandstream.xml.j2", "application/xml; charset=utf-8"),
    Vendor.FANVIL: ("fanvil.xml.j2", "application/xml; charset=utf-8"),
    Vendor.CISCO: ("cisco-spa.xml.j2", "application/xml; charset=utf-8"),
    Vendor.GENERIC: ("generic.cfg.j2", "text/plain; charset=utf-8"),
}


def render_account(profile: PhoneProfile) -> ConfigFile:
    """Render the per-phone file that carries the SIP account (secret)."""
    template_name, media_type = _TEMPLATE[profile.vendor]
    template = environment().get_template(template_name)
    body = template.render(p=profile, v=_vendor_vars(profile))
    return ConfigFile(_mac_filename(profile.vendor, profile.mac), media_type, body, True)


def render_dhcp_snippets(site: SiteSettings) -> dict[str, str]:
    """dnsmasq and ISC dhcpd snippets that hand phones the provisioning URL (option 66/160)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "dhcp")),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False,
    )
    return {
        name.removesuffix(".j2"): env.get_template(name).render(url=site.provisioning_url)
        for name in ("dnsmasq.conf.j2", "dhcpd.conf.j2")
    }


def render_polycom_master(mac: str | None) -> ConfigFile:
    """Render the Polycom master file (`<mac>.cfg` or `000000000000.cfg`); no secrets."""
    phone_file = f"{mac}-phone.cfg" if mac else "[PHONE_MAC_ADDRESS]-phone.cfg"
    body = environment().get_template("polycom-master.xml.j2").render(phone_file=phone_file)
    name = f"{mac}.cfg" if mac else "000000000000.cfg"
    return ConfigFile(name, "application/xml; charset=utf-8", body, False)
