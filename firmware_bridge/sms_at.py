"""SMS over AT in PDU mode: send with AT+CMGS and the `> ` prompt, receive via +CMTI/+CMT/+CDS.

A received message leaves the SIM store (AT+CMGD) only after `on_message` has returned,
i.e. after the owner stored it durably. Parts of a multipart message stay on the SIM
until the whole message is stored, so a crash in between loses nothing: the next start
reads them again with AT+CMGL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from firmware_bridge.at.channel import AtError
from firmware_bridge.at.parser import Urc
from firmware_bridge.at.values import AtValueError, split_args
from firmware_bridge.clock import Clock, SystemClock
from firmware_bridge.modem import Modem
from firmware_bridge.sms import pdu as sms_pdu

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundSms:
    """A whole received message (multipart messages already joined)."""

    sender: str
    text: str
    timestamp: datetime
    parts: int
    missing: tuple[int, ...] = ()  # part numbers that never arrived (an expired partial)


@dataclass(frozen=True)
class DeliveryReport:
    """The network's report on a message we sent."""

    reference: int
    recipient: str
    status: int
    delivered: bool


MessageHandler = Callable[[InboundSms], Awaitable[None]]
ReportHandler = Callable[[DeliveryReport], Awaitable[None]]


async def _ignore_report(_report: DeliveryReport) -> None:
    return None


class SmsService:
    """Sends and receives SMS through one modem."""

    def __init__(self, modem: Modem, on_message: MessageHandler,
                 on_report: ReportHandler = _ignore_report, clock: Clock | None = None,
                 send_timeout: float = 30.0, partial_ttl: float = 24 * 3600.0,
                 sweep_interval: float = 600.0) -> None:
        self._modem = modem
        self._on_message = on_message
        self._on_report = on_report
        self._clock: Clock = clock or SystemClock()
        self._reassembler = sms_pdu.Reassembler(self._clock.monotonic, ttl_seconds=partial_ttl)
        self._sweep_interval = sweep_interval
        self._sweeper: asyncio.Task[None] | None = None
        self._part_indexes: dict[tuple[str, int, int], set[int]] = {}
        self._queue: asyncio.Queue[tuple[str, int | str]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._reference = 0
        self._send_timeout = send_timeout
        modem.subscribe_urcs(self._on_urc)
        modem.on_ready(self.drain)

    def start(self) -> None:
        """Start the receive worker."""
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="sms receive")
            self._sweeper = asyncio.create_task(self._sweep(), name="sms partial sweep")

    async def stop(self) -> None:
        """Stop the receive worker."""
        for task in (self._worker, self._sweeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._worker = self._sweeper = None

    async def _sweep(self) -> None:
        while True:
            await self._clock.sleep(self._sweep_interval)
            await self._queue.put(("expire", ""))

    async def join(self) -> None:
        """Wait until every message notified so far has been handled (stored and removed)."""
        await self._queue.join()

    async def send(self, number: str, text: str, *, status_report: bool = False) -> list[int]:
        """Send `text` to `number` (several parts if needed); return the message references."""
        pdus = sms_pdu.encode_submit(number, text, status_report=status_report,
                                     reference=self._reference)
        self._reference = (self._reference + len(pdus)) % 256
        refs: list[int] = []
        for part in pdus:
            resp = await self._modem.command(f"AT+CMGS={part.tpdu_length}",
                                             timeout=self._send_timeout, pdu=part.hex)
            values = resp.info("+CMGS")
            if not values:
                raise AtValueError(f"AT+CMGS answered without +CMGS: {resp.lines!r}")
            refs.append(int(split_args(values[0])[0]))
        return refs

    async def drain(self) -> None:
        """Read every message left in the SIM store (after a start or a reset)."""
        resp = await self._modem.command("AT+CMGL=4", timeout=10)
        lines = list(resp.lines)
        for i, line in enumerate(lines):
            if line.startswith("+CMGL:") and i + 1 < len(lines):
                index = int(split_args(line[6:])[0])
                await self._queue.put(("stored", index))

    # --- receive -----------------------------------------------------------------------

    def _on_urc(self, urc: Urc) -> None:
        if urc.name == "+CMTI":
            args = split_args(urc.value)
            with contextlib.suppress(IndexError, ValueError):
                self._queue.put_nowait(("stored", int(args[1])))
        elif urc.name in ("+CMT", "+CDS") and urc.payload:
            self._queue.put_nowait(("direct", urc.payload))

    async def _work(self) -> None:
        while True:
            kind, item = await self._queue.get()
            try:
                await self._one(kind, item)
            finally:
                self._queue.task_done()

    async def _one(self, kind: str, item: int | str) -> None:
        try:
            if kind == "expire":
                await self._deliver_expired()
            elif isinstance(item, int):
                await self._read_stored(item)
            else:
                await self._handle(item, None)
        except (AtError, AtValueError, sms_pdu.PduError) as exc:
            log.warning("SMS receive failed (%s %s): %s; it stays on the SIM", kind, item, exc)
        except Exception:
            log.exception("SMS handler failed; the message stays on the SIM")

    async def _read_stored(self, index: int) -> None:
        resp = await self._modem.command(f"AT+CMGR={index}", check=False)
        if not resp.ok:
            return  # already gone (read and deleted by an earlier pass)
        pdu_lines = [ln for ln in resp.lines if not ln.startswith("+CMGR:")]
        if not pdu_lines:
            return
        await self._handle(pdu_lines[0], index)

    async def _handle(self, pdu_hex: str, index: int | None) -> None:
        message = sms_pdu.decode(pdu_hex)
        if isinstance(message, sms_pdu.StatusReport):
            await self._on_report(DeliveryReport(message.reference, message.recipient,
                                                 message.status, message.delivered))
            await self._delete([index])
            return
        if not isinstance(message, sms_pdu.Deliver):
            log.warning("ignoring a %s in the SIM store", type(message).__name__)
            return
        concat = message.concat
        if concat is None or concat.total == 1:
            await self._on_message(InboundSms(message.sender, message.text,
                                              message.timestamp, 1))
            await self._delete([index])
            return
        key = (message.sender, concat.ref, concat.total)
        indexes = self._part_indexes.setdefault(key, set())
        if index is not None:
            indexes.add(index)
        text = self._reassembler.add(message)
        if text is None:
            return
        await self._on_message(InboundSms(message.sender, text, message.timestamp,
                                          concat.total))
        await self._delete(sorted(self._part_indexes.pop(key, set())))

    async def _deliver_expired(self) -> None:
        """Hand over multipart messages whose missing parts never came, marked as partial."""
        for partial in self._reassembler.expired():
            key = (partial.sender, partial.ref, partial.total)
            await self._on_message(InboundSms(partial.sender, partial.text,
                                              partial.parts[0].timestamp, partial.total,
                                              partial.missing))
            await self._delete(sorted(self._part_indexes.pop(key, set())))

    async def _delete(self, indexes: Sequence[int | None]) -> None:
        for index in indexes:
            if index is not None:
                await self._modem.command(f"AT+CMGD={index}")
