"""Every vendor template renders a file that parses, with names that need escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from provisioning.model import Vendor
from provisioning.profile import (
    InvalidProfile,
    KeyKind,
    LineKey,
    PhoneProfile,
    ProvisioningCredentials,
    SipAccount,
    SiteSettings,
    Transport,
)
from provisioning.render import render_account, render_polycom_master

NAMES = [
    "Plain Name",
    "דנה כהן",  # Hebrew
    "محمد علي",  # Arabic
    "王小明",  # Chinese
    "Łukasz Żółć",  # Polish
    "Tom & Jerry <sales> \"quoted\" 'single'",
    "Evil\nname = injected\r\naccount.1.password = stolen",
    "x]]><!-- --> &amp; &#0;",
]
PASSWORD = "p&ss<w>rd=\"'#;x"  # every character that means something in a format

SITE = SiteSettings(sip_host="192.0.2.1", provisioning_url="https://192.0.2.1:8443/prov/",
                    timezone="Asia/Jerusalem", language="he")

MODELS = {
    Vendor.YEALINK: ["T46S", "T54W", "T42U"],
    Vendor.POLYCOM: ["VVX411", "VVX250"],
    Vendor.GRANDSTREAM: ["GXP2170", "GRP2614"],
    Vendor.FANVIL: ["X4U", "X6U"],
    Vendor.CISCO: ["SPA504G", "SPA112"],
    Vendor.GENERIC: [""],
}
CASES = [(v, m) for v, models in MODELS.items() for m in models]

# Keys each key=value format may contain: the vendor key list, kept here on purpose.
YEALINK_KEYS = [
    r"account\.1\.(enable|label|display_name|user_name|auth_name|password)",
    r"account\.1\.sip_server\.1\.(address|port|transport_type|expires)",
    r"account\.1\.nat\.(udp_update_enable|udp_update_time)",
    r"account\.1\.subscribe_mwi_to_vm",
    r"voice_mail\.number\.1",
    r"local_time\.(time_zone|summer_time|ntp_server1|manual_ntp_srv_prior)",
    r"lang\.(gui|wui)",
    r"dialplan\.digitmap\.(enable|string)",
    r"linekey\.\d+\.(type|line|value|label)",
    r"static\.auto_provision\.server\.(url|username|password)",
]
GENERIC_KEYS = [
    r"sip\.account\.(extension|display_name|user|auth_user|password)",
    r"sip\.server\.(host|port|transport)",
    r"sip\.nat\.keepalive_seconds",
    r"time\.(zone|ntp_server)",
    r"phone\.language",
    r"dialplan\.digitmap",
    r"voicemail\.number",
    r"key\.\d+\.(type|value|label)",
]


def profile(vendor: Vendor, model: str, name: str,
            creds: ProvisioningCredentials | None = None) -> PhoneProfile:
    account = SipAccount("1001", name, "1001", PASSWORD)
    keys = (*SITE.feature_keys(), LineKey(KeyKind.BLF, "1002", name),
            LineKey(KeyKind.BLF, "1003", "Bob"))
    return PhoneProfile(vendor, model, "001565aabbcc", account, SITE, keys, creds)


def parse_kv(body: str, allowed: list[str], header: str | None) -> dict[str, str]:
    """Parse a key = value file, failing on any line that is not an allowed key."""
    lines = body.splitlines()
    if header is not None:
        assert lines[0] == header
    pattern = re.compile("^(" + "|".join(allowed) + ")$")
    out: dict[str, str] = {}
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, value = line.partition(" = ")
        assert sep, f"not a key = value line: {line!r}"
        assert pattern.match(key), f"key not in the vendor key list: {key!r}"
        assert key not in out, f"key set twice: {key}"
        out[key] = value
    return out


def expected_name(name: str) -> str:
    return re.sub(r"[\x00-\x1f]", " ", name).strip()


@pytest.mark.parametrize(("vendor", "model"), CASES)
@pytest.mark.parametrize("name", NAMES)
def test_every_template_renders_a_file_that_parses(vendor: Vendor, model: str, name: str) -> None:
    creds = ProvisioningCredentials("phone-001565aabbcc", "Zy&<9>")
    body = render_account(profile(vendor, model, name, creds)).body
    if vendor is Vendor.YEALINK:
        kv = parse_kv(body, YEALINK_KEYS, "#!version:1.0.0.1")
        assert kv["account.1.password"] == PASSWORD
        assert kv["account.1.display_name"] == expected_name(name)
        assert kv["account.1.sip_server.1.address"] == "192.0.2.1"
        assert kv["linekey.2.value"] == "*45"
        assert kv["static.auto_provision.server.password"] == "Zy&<9>"
        return
    if vendor is Vendor.GENERIC:
        kv = parse_kv(body, GENERIC_KEYS, None)
        assert kv["sip.account.password"] == PASSWORD
        assert kv["sip.account.display_name"] == expected_name(name)
        return
    root = ET.fromstring(body.encode("utf-8"))
    texts = " ".join(root.itertext()) + " ".join(
        v for el in root.iter() for v in el.attrib.values())
    assert PASSWORD in texts
    assert expected_name(name) in texts
    assert "Zy&<9>" in texts


def _by_tag(root: ET.Element) -> dict[str, str]:
    return {el.tag: (el.text or "") for el in root.iter()}


def test_grandstream_p_values_carry_account_transport_and_keys() -> None:
    site = SiteSettings(sip_host="pbx.lan", provisioning_url="http://pbx.lan/prov/",
                        transport=Transport.TCP, sip_port=5070)
    p = PhoneProfile(Vendor.GRANDSTREAM, "GXP2170", "000b82aabbcc",
                     SipAccount("2001", "דנה", "2001", "pw"), site,
                     (*site.feature_keys(), LineKey(KeyKind.BLF, "2002", "Avi")))
    tags = _by_tag(ET.fromstring(render_account(p).body))
    assert tags["mac"] == "000b82aabbcc"
    assert (tags["P47"], tags["P35"], tags["P34"], tags["P3"]) == ("pbx.lan:5070", "2001",
                                                                  "pw", "דנה")
    assert tags["P130"] == "1"  # TCP
    assert (tags["P323"], tags["P303"]) == ("0", "*45")  # key 1: speed dial to queue login
    assert (tags["P326"], tags["P312"], tags["P311"]) == ("1", "2002", "Avi")  # key 4: BLF
    assert tags["P212"] == "1" and tags["P237"] == "pbx.lan/prov"
    assert "P1361" not in tags  # no provisioning password unless one was issued


def test_polycom_account_attributes() -> None:
    root = ET.fromstring(render_account(profile(Vendor.POLYCOM, "VVX411", "A & B")).body)
    reg = root.find("reg")
    assert reg is not None
    assert reg.get("reg.1.auth.password") == PASSWORD
    assert reg.get("reg.1.displayName") == "A & B"
    att = root.find("attendant")
    assert att is not None and att.get("attendant.resourceList.1.address") == "1002"
    efk = root.find("efk")
    assert efk is not None and efk.get("efk.efklist.3.action.string") == "*47$Tinvite$"
    tcp = root.find("tcpIpApp")
    assert tcp is not None and tcp.get("tcpIpApp.sntp.gmtOffset") == "7200"


def test_polycom_master_names_the_phone_file_and_has_no_secret() -> None:
    for mac, expected in ((None, "[PHONE_MAC_ADDRESS]-phone.cfg"),
                          ("0004f2aabbcc", "0004f2aabbcc-phone.cfg")):
        file = render_polycom_master(mac)
        root = ET.fromstring(file.body)
        assert root.tag == "APPLICATION"
        assert root.get("CONFIG_FILES") == expected
        assert not file.carries_secrets


def test_cisco_phone_gets_line_keys_but_ata_does_not() -> None:
    phone = ET.fromstring(render_account(profile(Vendor.CISCO, "SPA504G", "A;nme=B")).body)
    tags = _by_tag(phone)
    assert tags["Extended_Function_2_"] == "fnc=sd;ext=*45@192.0.2.1;nme=Queue login"
    assert tags["Extended_Function_5_"] == "fnc=blf+sd+cp;sub=1002@192.0.2.1;nme=A nme B"
    assert tags["Time_Zone"] == "GMT+02:00"
    ata = _by_tag(ET.fromstring(render_account(profile(Vendor.CISCO, "SPA112", "A")).body))
    assert not any(t.startswith("Extended_Function") for t in ata)
    assert ata["Password_1_"] == PASSWORD


def test_fanvil_keys_are_memory_keys() -> None:
    root = ET.fromstring(render_account(profile(Vendor.FANVIL, "X4U", "A")).body)
    values = [el.findtext("Value") for el in root.iter("Fkey")]
    assert values == ["SIP1", "*45@1/f", "*46@1/f", "*47@1/f", "1002@1/ba", "1003@1/ba"]


def test_rendered_file_does_not_show_its_secrets_in_repr() -> None:
    file = render_account(profile(Vendor.YEALINK, "T46S", "A"))
    assert PASSWORD not in repr(file)
    assert PASSWORD not in repr(profile(Vendor.YEALINK, "T46S", "A"))


@pytest.mark.parametrize(("field", "value"), [
    ("sip_password", "has space"), ("sip_password", "line\nbreak"), ("sip_user", "a@b"),
    ("extension", "10 01"), ("sip_password", ""),
])
def test_account_values_that_cannot_be_written_are_refused(field: str, value: str) -> None:
    kwargs = {"extension": "1001", "display_name": "A", "sip_user": "1001", "sip_password": "pw"}
    kwargs[field] = value
    with pytest.raises(InvalidProfile):
        SipAccount(**kwargs)


@pytest.mark.parametrize(("kwargs"), [
    {"sip_host": "bad host"}, {"timezone": "Mars/Olympus"}, {"sip_port": 0},
    {"provisioning_url": "ftp://x/"}, {"provisioning_url": "http://x/\nHost: y"},
    {"digit_map": "x\ny"},
])
def test_bad_site_settings_are_refused(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"sip_host": "192.0.2.1", "provisioning_url": "http://x/"}
    base.update(kwargs)
    with pytest.raises(InvalidProfile):
        SiteSettings(**base)  # type: ignore[arg-type]


def test_time_zone_offsets_for_southern_and_half_hour_zones() -> None:
    syd = PhoneProfile(Vendor.YEALINK, "", "001565aabbcc", SipAccount("1", "a", "1", "p"),
                       SiteSettings(sip_host="h", provisioning_url="http://h/",
                                    timezone="Australia/Sydney"))
    assert syd.utc_offset_hours() == "+10" and syd.has_summer_time()
    india = PhoneProfile(Vendor.CISCO, "", "001565aabbcc", SipAccount("1", "a", "1", "p"),
                         SiteSettings(sip_host="h", provisioning_url="http://h/",
                                      timezone="Asia/Kolkata"))
    assert india.utc_offset_hours() == "+5.5" and india.gmt_offset_hhmm() == "GMT+05:30"
    assert not india.has_summer_time()
