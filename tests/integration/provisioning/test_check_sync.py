"""Check-sync NOTIFY over UDP to a phone socket on loopback, alone and from the lifecycle."""

from __future__ import annotations

import asyncio

import pytest

from provisioning import sip
from provisioning.model import Vendor
from provisioning.notify import UdpCheckSyncSender, contact_address
from provisioning.store import DeviceStore

from .conftest import make_box
from .udp import PhoneSocket, open_phone


async def answer_next(phone: PhoneSocket, status: int = 200) -> sip.SipMessage:
    """Receive one request and answer it like a phone does."""
    msg, addr = await phone.receive()
    phone.send(sip.response(msg, status, "OK" if status == 200 else "Nope", "ph"), addr)
    return msg


async def test_notify_carries_check_sync_and_returns_the_phone_answer() -> None:
    phone = await open_phone()
    sender = UdpCheckSyncSender(local_host="127.0.0.1", t1=0.05, timeout=3.0)
    host, port = phone.address
    try:
        result, msg = await asyncio.gather(
            sender.check_sync(f"sip:1001@{host}:{port};transport=udp", "check-sync"),
            answer_next(phone),
        )
    finally:
        assert phone.transport is not None
        phone.transport.close()
    assert result == 200
    assert msg.method == "NOTIFY"
    assert msg.request_uri == f"sip:1001@{host}:{port}"
    assert msg.header("event") == "check-sync"
    assert msg.header("subscription-state") == "terminated"
    assert msg.header("cseq") == "1 NOTIFY"


async def test_notify_is_retransmitted_until_the_phone_answers() -> None:
    phone = await open_phone()
    sender = UdpCheckSyncSender(local_host="127.0.0.1", t1=0.02, timeout=3.0)

    async def deaf_then_answer() -> list[sip.SipMessage]:
        first, _ = await phone.receive()  # lost, as far as the sender knows
        second = await answer_next(phone, 481)
        return [first, second]

    host, port = phone.address
    try:
        result, (first, second) = await asyncio.gather(
            sender.check_sync(f"sip:{host}:{port}", "resync"), deaf_then_answer())
    finally:
        assert phone.transport is not None
        phone.transport.close()
    assert result == 481
    assert first.header("call-id") == second.header("call-id")
    assert second.header("event") == "resync"


async def test_silent_phone_gives_none_after_the_timeout() -> None:
    phone = await open_phone()
    sender = UdpCheckSyncSender(local_host="127.0.0.1", t1=0.02, timeout=0.2)
    host, port = phone.address
    try:
        assert await sender.check_sync(f"sip:{host}:{port}", "check-sync") is None
    finally:
        assert phone.transport is not None
        phone.transport.close()
    assert phone.inbox.qsize() >= 2  # it did retransmit


@pytest.mark.parametrize("uri", ["mailto:x@y", "sip:", "sip:1001@host:99999", "<>"])
async def test_bad_contacts_are_refused(uri: str) -> None:
    with pytest.raises(ValueError):
        contact_address(uri)
    with pytest.raises(ValueError):
        await UdpCheckSyncSender(local_host="127.0.0.1").check_sync(uri, "check-sync")


async def test_assign_move_and_revoke_send_check_sync_to_the_registered_contact(
    store: DeviceStore,
) -> None:
    phone = await open_phone()
    sender = UdpCheckSyncSender(local_host="127.0.0.1", t1=0.05, timeout=3.0)
    box = make_box(store, sender=sender)
    host, port = phone.address
    box.contacts.contacts["1001"] = f"sip:1001@{host}:{port}"
    box.contacts.contacts["1002"] = f"sip:1002@{host}:{port}"
    try:
        await box.service.assign("001565aabbcc", "1001")
        assigned = await answer_next(phone)
        await box.service.assign("001565aabbcc", "1002")  # the phone is still 1001
        moved = await answer_next(phone)
        await box.service.unassign("001565aabbcc")
        revoked = await answer_next(phone)
        await box.service.assign("0018f8aabbcc", "1002", vendor=Vendor.CISCO)
        cisco = await answer_next(phone)
        await box.service.wait_notifications()
    finally:
        assert phone.transport is not None
        phone.transport.close()
    assert [m.request_uri for m in (assigned, moved, revoked)] == [
        f"sip:1001@{host}:{port}", f"sip:1001@{host}:{port}", f"sip:1002@{host}:{port}"]
    assert {m.header("event") for m in (assigned, moved, revoked)} == {"check-sync"}
    assert cisco.header("event") == "resync"


async def test_unreachable_phone_does_not_break_the_assignment(store: DeviceStore) -> None:
    sender = UdpCheckSyncSender(local_host="127.0.0.1", t1=0.02, timeout=0.1)
    box = make_box(store, sender=sender)
    box.contacts.contacts["1001"] = "sip:1001@127.0.0.1:9"  # discard port: nobody answers
    result = await box.service.assign("001565aabbcc", "1001")
    await box.service.wait_notifications()
    assert result.http_password
    stored = await store.get("001565aabbcc")
    assert stored is not None and stored.extension == "1001"
