"""SIP plug-and-play on loopback: a SUBSCRIBE is answered with 200 OK and the URL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from provisioning.model import State, Vendor
from provisioning.pnp import PhoneAnnouncement, PnpResponder, start_responder
from provisioning.service import ProvisioningService
from provisioning.store import DeviceStore
from tests.support.net import free_port

from .conftest import make_box
from .udp import PhoneSocket, open_phone

URL = "https://box.lan/prov/"


def subscribe(mac_user: str, call_id: str, port: int, vendor: str = "Yealink") -> bytes:
    return (
        f"SUBSCRIBE sip:{mac_user}@224.0.1.75 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id};rport\r\n"
        f"From: <sip:{mac_user}@224.0.1.75>;tag=phone-tag\r\n"
        f"To: <sip:{mac_user}@224.0.1.75>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 SUBSCRIBE\r\n"
        f"Contact: <sip:127.0.0.1:{port}>\r\n"
        f'Event: ua-profile;profile-type="device";vendor="{vendor}";model="T46S";'
        'version="66.86.0.15"\r\n'
        "Accept: application/url\r\n"
        "Expires: 0\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


@pytest.fixture
async def pnp(store: DeviceStore) -> AsyncIterator[tuple[PnpResponder, PhoneSocket,
                                                           ProvisioningService]]:
    service = make_box(store).service

    async def on_phone(phone: PhoneAnnouncement) -> None:
        await service.note_seen(phone.mac, phone.ip, phone.user_agent or
                                f"{phone.vendor} {phone.model}")

    transport, responder = await start_responder(URL, "127.0.0.1", free_port(),
                                                 on_phone=on_phone)
    phone = await open_phone()
    try:
        yield responder, phone, service
    finally:
        transport.close()
        assert phone.transport is not None
        phone.transport.close()


def responder_addr(responder: PnpResponder) -> tuple[str, int]:
    assert responder.transport is not None
    host, port = responder.transport.get_extra_info("sockname")[:2]
    return str(host), int(port)


async def test_subscribe_gets_200_then_notify_with_the_url(
    pnp: tuple[PnpResponder, PhoneSocket, ProvisioningService],
) -> None:
    responder, phone, service = pnp
    phone.send(subscribe("MAC%3a001565aabbcc", "call-1", phone.address[1]),
               responder_addr(responder))
    ok, _ = await phone.receive()
    assert (ok.status, ok.header("call-id")) == (200, "call-1")
    assert ok.header("cseq") == "1 SUBSCRIBE"
    notify, _ = await phone.receive()
    assert notify.method == "NOTIFY"
    assert notify.request_uri == f"sip:127.0.0.1:{phone.address[1]}"
    assert notify.header("call-id") == "call-1"
    assert notify.header("event", ).startswith("ua-profile")  # type: ignore[union-attr]
    assert notify.header("content-type") == "application/url"
    assert notify.header("to") == "<sip:MAC%3a001565aabbcc@224.0.1.75>;tag=phone-tag"
    assert notify.body.decode() == URL
    await responder.wait_reports()
    pending = await service.devices(State.PENDING)
    assert [(d.mac, d.vendor, d.last_ip) for d in pending] == [
        ("001565aabbcc", Vendor.YEALINK, "127.0.0.1")]


async def test_malformed_datagrams_are_ignored_and_the_responder_keeps_working(
    pnp: tuple[PnpResponder, PhoneSocket, ProvisioningService],
) -> None:
    responder, phone, _ = pnp
    target = responder_addr(responder)
    garbage = [
        b"\x00", b"\xff" * 1500, b"GET / HTTP/1.1\r\n\r\n",
        subscribe("MAC%3a001565aabbcc", "x", 1).replace(b"Call-ID: x\r\n", b""),
        subscribe("not-a-mac", "y", 1),  # no MAC in the URI: not a PnP request
        subscribe("MAC%3a001565aabbcc", "z", 1).replace(b"ua-profile", b"presence"),
        b"SIP/2.0 200 OK\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 NOTIFY\r\n\r\n",
    ]
    for data in garbage:
        phone.send(data, target)
    phone.send(subscribe("MAC%3a0004f2aabbcc", "good", phone.address[1], "Polycom"), target)
    first, _ = await phone.receive()
    assert (first.status, first.header("call-id")) == (200, "good")  # nothing for the garbage
    second, _ = await phone.receive()
    assert second.method == "NOTIFY" and second.body.decode() == URL
    assert responder.answered == 1
    assert responder.ignored == len(garbage) - 1  # the stray 200 OK is not even counted
    assert phone.inbox.empty()
