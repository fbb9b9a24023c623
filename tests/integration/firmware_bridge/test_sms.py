"""SMS through the simulator in PDU mode: send, receive, multipart, reports, safe removal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from firmware_bridge.modem import Modem
from firmware_bridge.simulator import ModemSimulator
from firmware_bridge.sms import pdu as sms_pdu
from firmware_bridge.sms_at import DeliveryReport, InboundSms, SmsService
from tests.integration.firmware_bridge.support import WAIT, ManualClock


class Inbox:
    """The owner's durable store, as the SMS service sees it: an async callback."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[InboundSms] = asyncio.Queue()
        self.reports: asyncio.Queue[DeliveryReport] = asyncio.Queue()
        self.fail = False
        self.gate: asyncio.Event | None = None
        self.attempted = asyncio.Event()

    async def store(self, message: InboundSms) -> None:
        self.attempted.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise OSError("disk full")
        self.messages.put_nowait(message)

    async def report(self, report: DeliveryReport) -> None:
        self.reports.put_nowait(report)

    async def next(self) -> InboundSms:
        return await asyncio.wait_for(self.messages.get(), WAIT)


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
async def sms(modem: Modem, inbox: Inbox) -> AsyncIterator[SmsService]:
    service = SmsService(modem, inbox.store, inbox.report)
    service.start()
    try:
        yield service
    finally:
        await service.stop()


TEXTS = {
    "hebrew": "שלום, ההזמנה שלך מוכנה לאיסוף",
    "arabic": "مرحبا، طلبك جاهز للاستلام",
    "chinese": "您好，您的订单已准备好取货",
    "gsm7_extension": "Price: 10€ [promo] {code} ~50% off | ^_^ \\o/",
    "three_parts": "שלום עולם! " * 17,  # UCS-2, 187 characters: three 67-char parts
}


@pytest.mark.parametrize("name", sorted(TEXTS))
async def test_send_and_receive_round_trip(modem: Modem, sim: ModemSimulator, sms: SmsService,
                                           inbox: Inbox, name: str) -> None:
    text = TEXTS[name]
    refs = await sms.send(sim.own_number, text)  # the network loops it back to us
    assert len(refs) == (3 if name == "three_parts" else 1)
    assert "".join(m.text for m in sim.sent_sms) == text
    got = await inbox.next()
    assert got.text == text and got.sender == sim.own_number
    assert got.parts == len(refs)
    await sms.join()
    assert sim.sim_store == {}  # storage emptied after the message was stored


async def test_store_emptied_only_after_the_message_is_safely_stored(
        modem: Modem, sim: ModemSimulator, sms: SmsService, inbox: Inbox) -> None:
    inbox.gate = asyncio.Event()
    [index] = sim.inject_sms("+972501234567", "שלום")
    assert index is not None
    await asyncio.wait_for(inbox.attempted.wait(), WAIT)
    assert index in sim.sim_store  # read, handed over, but the owner has not returned yet
    inbox.gate.set()
    assert (await inbox.next()).text == "שלום"
    await sms.join()
    assert sim.sim_store == {}


async def test_failed_store_keeps_the_message_on_the_sim(
        modem: Modem, sim: ModemSimulator, sms: SmsService, inbox: Inbox) -> None:
    inbox.fail = True
    sim.inject_sms("+972501234567", "keep me")
    await asyncio.wait_for(inbox.attempted.wait(), WAIT)
    await sms.join()
    assert len(sim.sim_store) == 1
    inbox.fail = False
    await sms.drain()  # as after a restart or the next ready
    assert (await inbox.next()).text == "keep me"
    await sms.join()
    assert sim.sim_store == {}


async def test_messages_waiting_on_the_sim_are_read_at_start(
        sim: ModemSimulator, bare_modem: Modem, inbox: Inbox) -> None:
    sim.inject_sms("+4915112345", "sent while we were down")
    sim.inject_sms("+4915112345", "مرحبا " * 30)  # two UCS-2 parts
    service = SmsService(bare_modem, inbox.store, inbox.report)
    service.start()
    await bare_modem.start()
    try:
        texts = {(await inbox.next()).text, (await inbox.next()).text}
        assert texts == {"sent while we were down", "مرحبا " * 30}
        await service.join()
        assert sim.sim_store == {}
    finally:
        await service.stop()
        await bare_modem.stop()


async def test_delivery_report(modem: Modem, sim: ModemSimulator, sms: SmsService,
                               inbox: Inbox) -> None:
    [ref] = await sms.send("+4915112345", "hello", status_report=True)
    report = await asyncio.wait_for(inbox.reports.get(), WAIT)
    assert report.reference == ref and report.delivered and report.recipient == "+4915112345"


async def test_direct_delivery_with_cmt(modem: Modem, sim: ModemSimulator, sms: SmsService,
                                        inbox: Inbox) -> None:
    await modem.command("AT+CNMI=2,2,0,1,0")
    sim.inject_sms("+972501234567", "直接送达")
    assert (await inbox.next()).text == "直接送达"
    assert sim.sim_store == {}


async def test_send_refused_without_network(modem: Modem, sim: ModemSimulator,
                                            sms: SmsService) -> None:
    sim.set_network(False)
    with pytest.raises(Exception, match="CMS ERROR: 331"):
        await sms.send("+4915112345", "hello")
    assert sim.sent_sms == []


async def test_multipart_with_a_missing_part_is_handed_over_when_it_expires(
        modem: Modem, sim: ModemSimulator, inbox: Inbox, clock: ManualClock) -> None:
    service = SmsService(modem, inbox.store, inbox.report, clock=clock, partial_ttl=3600,
                         sweep_interval=600)
    service.start()
    try:
        parts = sms_pdu.encode_deliver("+972501234567", "אבג" * 60, datetime.now(UTC),
                                       smsc=sim.smsc, concat_ref=42)
        assert len(parts) == 3
        notices: asyncio.Queue[str] = asyncio.Queue()
        modem.subscribe_urcs(lambda u: notices.put_nowait(u.name) if u.name == "+CMTI" else None)
        sim.inject_pdu(parts[0])
        sim.inject_pdu(parts[2])
        for _ in range(2):
            await asyncio.wait_for(notices.get(), WAIT)
        await service.join()  # the service queued both notices before our subscriber ran
        assert len(sim.sim_store) == 2 and inbox.messages.empty()
        for _ in range(6):  # an hour of sweeps
            await clock.wait_for_sleeper(lambda d: d == 600)
            clock.advance(600)
        got = await inbox.next()
        assert got.missing == (2,) and got.text.startswith("אבג") and "[…]" in got.text
        await service.join()
        assert sim.sim_store == {}
    finally:
        await service.stop()
