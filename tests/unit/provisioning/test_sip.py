"""The SIP parser: real PnP SUBSCRIBEs parse, anything malformed raises SipParseError only."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioning import sip
from provisioning.pnp import announcement

YEALINK_SUBSCRIBE = (
    b"SUBSCRIBE sip:MAC%3a001565aabbcc@224.0.1.75 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bK1234;rport\r\n"
    b"From: <sip:MAC%3a001565aabbcc@224.0.1.75>;tag=abc\r\n"
    b"To: <sip:MAC%3a001565aabbcc@224.0.1.75>\r\n"
    b"Call-ID: 1-2-3@192.0.2.50\r\n"
    b"CSeq: 1 SUBSCRIBE\r\n"
    b"Contact: <sip:192.0.2.50:5060>\r\n"
    b'Event: ua-profile;profile-type="device";vendor="Yealink";model="T46S";version="66.86"\r\n'
    b"Accept: application/url\r\n"
    b"Max-Forwards: 70\r\n"
    b"Expires: 0\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_pnp_subscribe_parses_to_an_announcement() -> None:
    msg = sip.parse(YEALINK_SUBSCRIBE)
    assert (msg.method, msg.request_uri) == ("SUBSCRIBE", "sip:MAC%3a001565aabbcc@224.0.1.75")
    phone = announcement(msg, "192.0.2.50")
    assert phone is not None
    assert (phone.mac, phone.vendor, phone.model, phone.ip) == (
        "001565aabbcc", "Yealink", "T46S", "192.0.2.50")


def test_compact_headers_and_bare_lf_are_understood() -> None:
    data = (b"SUBSCRIBE sip:0004f2aabbcc@224.0.1.75 SIP/2.0\n"
            b"v: SIP/2.0/UDP 192.0.2.9\nf: <sip:0004f2aabbcc@224.0.1.75>;tag=1\n"
            b"t: <sip:0004f2aabbcc@224.0.1.75>\ni: x\nCSeq: 1 SUBSCRIBE\n"
            b"o: ua-profile;vendor=Polycom\nl: 0\n\n")
    phone = announcement(sip.parse(data), "192.0.2.9")
    assert phone is not None and phone.mac == "0004f2aabbcc" and phone.vendor == "Polycom"


def test_other_events_and_methods_are_not_announcements() -> None:
    other_event = YEALINK_SUBSCRIBE.replace(b"Event: ua-profile", b"Event: presence")
    assert announcement(sip.parse(other_event), "x") is None
    no_mac = YEALINK_SUBSCRIBE.replace(b"MAC%3a001565aabbcc", b"alice")
    assert announcement(sip.parse(no_mac), "x") is None


def test_response_copies_dialog_headers_and_tags_to() -> None:
    req = sip.parse(YEALINK_SUBSCRIBE)
    resp = sip.parse(sip.response(req, 200, "OK", "t1"))
    assert resp.status == 200
    assert resp.header("call-id") == "1-2-3@192.0.2.50"
    assert resp.header("to") == "<sip:MAC%3a001565aabbcc@224.0.1.75>;tag=t1"
    assert resp.header("via") == req.header("via")


@pytest.mark.parametrize("data", [
    b"", b"\x00\xff\xfe", b"hello world", b"SUBSCRIBE sip:x SIP/3.0\r\n\r\n",
    YEALINK_SUBSCRIBE.replace(b"Call-ID: 1-2-3@192.0.2.50\r\n", b""),
    YEALINK_SUBSCRIBE.replace(b"Content-Length: 0", b"Content-Length: 99"),
    YEALINK_SUBSCRIBE.replace(b"Content-Length: 0", b"Content-Length: -1"),
    YEALINK_SUBSCRIBE.replace(b"Expires: 0", b"no colon here"),
    b" continuation first\r\n\r\n", b"SIP/2.0 999 Nope\r\n\r\n",
    YEALINK_SUBSCRIBE.replace(b"Yealink", b"\xff\xfe"),
])
def test_malformed_datagrams_raise_parse_error(data: bytes) -> None:
    with pytest.raises(sip.SipParseError):
        sip.parse(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise_anything_but_parse_error(data: bytes) -> None:
    with contextlib.suppress(sip.SipParseError):
        sip.parse(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(YEALINK_SUBSCRIBE)), st.binary(max_size=20))
def test_mangled_subscribes_never_raise_anything_but_parse_error(cut: int, junk: bytes) -> None:
    data = YEALINK_SUBSCRIBE[:cut] + junk + YEALINK_SUBSCRIBE[cut:]
    try:
        msg = sip.parse(data)
    except sip.SipParseError:
        return
    announcement(msg, "192.0.2.1")  # must not raise either
