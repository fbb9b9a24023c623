"""The bridge (modem on the simulator's pty, SMS service, spool, link) against a real controller's
SMS channel served over loopback HTTP: in, routed, replied, out intact, reported; controller down;
modem reset; opt-out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from fastapi import FastAPI

from firmware_bridge.health import Backoff
from firmware_bridge.link import LinkConfig
from firmware_bridge.service import Bridge
from firmware_bridge.simulator import ModemSimulator
from firmware_bridge.sms import pdu as sms_pdu
from tests.support.net import free_port
from tests.unit.messaging.conftest import Box
from tests.unit.messaging.conftest import box as box

T = TypeVar("T")
TOKEN = "link-test-token-0123456789"
CUSTOMER = "+972501234567"
HEBREW = "שלום, ההזמנה שלך מוכנה לאיסוף. " * 5  # 160 UCS-2 characters: 3 parts
WAIT = 15.0


async def until(check: Callable[[], Awaitable[T | None]], what: str, timeout: float = WAIT) -> T:
    """Poll `check` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        await asyncio.sleep(0.05)


class Internal:
    """The controller's link API on a loopback port (the part of the internal app the bridge uses)."""

    def __init__(self, box: Box, port: int) -> None:
        self.app = FastAPI()
        self.app.include_router(box.sms.link_router(TOKEN))
        self.port = port
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await self.task
            self.server = self.task = None


@dataclass
class Rig:
    box: Box
    sim: ModemSimulator
    internal: Internal
    bridge: Bridge

    async def message(self, body: str) -> list[Any]:
        rows = await self.box.rows("SELECT id, conversation_id, status FROM sms_messages WHERE body = ?", (body,))
        return rows


@pytest.fixture
def sim() -> Iterator[ModemSimulator]:
    s = ModemSimulator("quectel", reset_seconds=0.3).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
async def rig(box: Box, sim: ModemSimulator, tmp_path: Path) -> AsyncIterator[Rig]:
    internal = Internal(box, free_port())
    await internal.start()
    bridge = Bridge(sim.port, "quectel", tmp_path / "run" / "modem.json",
                    LinkConfig(f"http://127.0.0.1:{internal.port}/internal/link", TOKEN), tmp_path / "spool",
                    modem_options={"command_timeout": 1.0, "probe_interval": 2.0},
                    link_options={"poll_wait_s": 1.0, "heartbeat_s": 1.0,
                                  "backoff": Backoff(initial=0.1, maximum=0.5)})
    await bridge.start()
    try:
        await until(lambda: _ready(box), "modem ready as the controller sees it")
        yield Rig(box, sim, internal, bridge)
    finally:
        await bridge.stop()
        await internal.stop()


async def _ready(box: Box) -> bool:
    return bool(box.sms.modem.status and box.sms.modem.status["state"] == "ready")


def _sent_text(sim: ModemSimulator, recipient: str) -> str:
    return "".join(m.text for m in sim.sent_sms if m.recipient == recipient)


async def test_sms_in_routed_to_agent_reply_out_intact_and_delivered(rig: Rig) -> None:
    box, sim = rig.box, rig.sim
    await box.login("102")
    question = "שלום, מתי אתם פתוחים מחר? 你好 مرحبا"
    sim.inject_sms(CUSTOMER, question)
    (_mid, conv, status), = await until(lambda: rig.message(question), "inbound SMS stored")
    assert status == "received"
    assert sim.sim_store == {}  # removed from the SIM once the bridge had it safe
    (c,) = await box.sms.store.conversations("102")
    assert (c.id, c.number, c.state) == (conv, CUSTOMER, "assigned")
    out_id, parts = await box.sms.service.reply(conv, "102", HEBREW, "102")
    assert parts == 3
    await until(lambda: _async(_sent_text(sim, CUSTOMER) == HEBREW), "3-part UCS-2 reply on the air")
    sent = [m for m in sim.sent_sms if m.recipient == CUSTOMER]
    assert len(sent) == 3
    decoded = [sms_pdu.decode(m.pdu) for m in sent]
    assert all(isinstance(d, sms_pdu.Submit) and d.status_report and d.encoding is sms_pdu.Encoding.UCS2
               for d in decoded)
    await until(lambda: _rows(box, "SELECT 1 FROM sms_messages WHERE id = ? AND status = 'delivered'",
                              (out_id,)), "delivery reports for all 3 parts")


async def _async(value: T) -> T:
    return value


async def _rows(box: Box, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
    return await box.rows(sql, args)


async def test_stop_puts_the_number_on_the_block_list_and_outbound_is_refused(rig: Rig) -> None:
    from appliance.messaging.optout import RecipientOptedOut

    box, sim = rig.box, rig.sim
    sim.inject_sms(CUSTOMER, "hello")
    (_, conv, _), = await until(lambda: rig.message("hello"), "first SMS stored")
    sim.inject_sms(CUSTOMER, "STOP")
    await until(box.sms.store.blocklist, "block list entry")
    with pytest.raises(RecipientOptedOut):
        await box.sms.service.reply(conv, None, "one more offer", "sup")
    assert sim.sent_sms == []
    assert await box.rows("SELECT count(*) FROM sms_messages WHERE direction = 'out'") == [(0,)]


async def test_controller_down_while_an_sms_arrives_is_delivered_later_exactly_once(rig: Rig) -> None:
    box, sim = rig.box, rig.sim
    await rig.internal.stop()
    sim.inject_sms(CUSTOMER, "sent while the controller was down")
    spool = rig.bridge.link.spool
    await until(lambda: _async(bool(spool.items()) and not sim.sim_store), "spooled and off the SIM")
    assert await rig.message("sent while the controller was down") == []
    await rig.internal.start()
    await until(lambda: rig.message("sent while the controller was down"), "stored once the controller is back")
    await until(lambda: _async(not spool.items()), "spool emptied")
    assert await box.rows("SELECT count(*) FROM sms_messages") == [(1,)]


async def test_modem_reset_raises_and_clears_the_alarm(rig: Rig) -> None:
    box, sim = rig.box, rig.sim
    sim.power_cycle()
    await until(lambda: _rows(box, "SELECT 1 FROM alarms WHERE code = 'modem_down'"), "modem_down raised")
    await until(lambda: _rows(box, "SELECT 1 FROM alarms WHERE code = 'modem_down' AND cleared_at IS NOT NULL"),
                "modem_down cleared", timeout=30)
    states = [r[0] for r in await box.rows("SELECT json_extract(data, '$.new') FROM modem_events"
                                           " WHERE type = 'modem_state' ORDER BY id")]
    assert "resetting" in states and states[-1] == "ready"
