"""Device domain: MAC normalisation, vendor guess, the state machine."""

from __future__ import annotations

import pytest

from provisioning.files import FileKind, parse_filename
from provisioning.model import (
    Device,
    IllegalTransition,
    InvalidMac,
    State,
    Vendor,
    guess_vendor,
    normalize_mac,
)


@pytest.mark.parametrize("text", ["00:15:65:AA:BB:CC", "00-15-65-aa-bb-cc", "0015.65aa.bbcc",
                                  "001565AABBCC", "MAC:001565aabbcc"])
def test_mac_forms_normalize_to_twelve_lower_hex(text: str) -> None:
    assert normalize_mac(text) == "001565aabbcc"


@pytest.mark.parametrize("text", ["", "001565aabbc", "001565aabbccdd", "00156gaabbcc",
                                  "000000000000", "../etc/passwd"])
def test_bad_macs_are_refused(text: str) -> None:
    with pytest.raises(InvalidMac):
        normalize_mac(text)


@pytest.mark.parametrize(("ua", "vendor", "model"), [
    ("Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc", Vendor.YEALINK, "T46S"),
    ("Yealink SIP-T54W 96.86.0.100", Vendor.YEALINK, "T54W"),
    ("PolycomVVX-VVX_411-UA/5.9.5.0614", Vendor.POLYCOM, "411"),
    ("Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82aabbcc", Vendor.GRANDSTREAM,
     "GXP2170"),
    ("Fanvil X4U 2.12.1 0c383e07e16c", Vendor.FANVIL, "X4U"),
    ("Cisco/SPA504G-7.6.2", Vendor.CISCO, "SPA504G"),
    ("Linksys/SPA942-6.1.5(a)", Vendor.CISCO, "SPA942"),
    ("curl/8.0", Vendor.GENERIC, ""),
])
def test_vendor_is_guessed_from_user_agent(ua: str, vendor: Vendor, model: str) -> None:
    assert guess_vendor(ua) == (vendor, model)


def _pending() -> Device:
    return Device("001565aabbcc", Vendor.YEALINK, "T46S", State.PENDING, None, None, None,
                  None, None, 1.0, 1.0, "192.0.2.5")


def test_assign_then_revoke_withdraws_credentials() -> None:
    assigned = _pending().assigned("1001", "phone-x", "hash")
    assert (assigned.state, assigned.extension, assigned.http_username) == (
        State.ASSIGNED, "1001", "phone-x")
    revoked = assigned.revoked()
    assert revoked.state is State.REVOKED
    assert (revoked.http_username, revoked.http_password_hash, revoked.token_hash) == (
        None, None, None)
    assert revoked.assigned("1002", "phone-y", "h2").state is State.ASSIGNED


@pytest.mark.parametrize("device", [_pending(), _pending().assigned("1", "u", "h").revoked()])
def test_revoking_a_device_that_holds_nothing_is_illegal(device: Device) -> None:
    with pytest.raises(IllegalTransition):
        device.revoked()


@pytest.mark.parametrize(("name", "kind", "mac", "vendor"), [
    ("000000000000.cfg", FileKind.POLYCOM_BOOTSTRAP, None, Vendor.POLYCOM),
    ("001565AABBCC.cfg", FileKind.MAC_CFG, "001565aabbcc", None),
    ("0004f2aabbcc-phone.cfg", FileKind.ACCOUNT, "0004f2aabbcc", Vendor.POLYCOM),
    ("cfg000b82aabbcc.xml", FileKind.ACCOUNT, "000b82aabbcc", Vendor.GRANDSTREAM),
    ("cfg000b82aabbcc", FileKind.ACCOUNT, "000b82aabbcc", Vendor.GRANDSTREAM),
    ("spa0018f8aabbcc.xml", FileKind.ACCOUNT, "0018f8aabbcc", Vendor.CISCO),
])
def test_vendor_file_names_are_recognised(
    name: str, kind: FileKind, mac: str | None, vendor: Vendor | None
) -> None:
    parsed = parse_filename(name)
    assert parsed is not None
    assert (parsed.kind, parsed.mac, parsed.vendor_hint) == (kind, mac, vendor)


@pytest.mark.parametrize("name", ["y000000000028.cfg", "index.html", "001565aabbcc.cfg.bak",
                                  "cfg000000000000.xml", "..%2f001565aabbcc.cfg", ""])
def test_other_file_names_are_not_ours(name: str) -> None:
    assert parse_filename(name) is None
