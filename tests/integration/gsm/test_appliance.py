"""The gateway as the box's GSM trunk: real Kamailio, controller and media workers.

The appliance is preseeded with a trunk of kind gsm at the gateway's address, DID -> IVR 810
(no key pressed: extension 102) and a route 0XXXXXXXXX -> gsm. Inbound: a GSM call enters
routing as a trunk call to the DID with the caller's number; outbound: extension 101 dials a
national number, the OUTBOUND flow sends it to the gateway, the modem dials; a mobile number's
SIP trunk answering 503 fails over to the GSM line. A modem reset mid-call closes the CDR.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.storage.db import open_db
from appliance.storage.trunks import TrunkStore
from appliance.trunks.model import CallerIdMode, CallerIdRule, OutboundRoute, Trunk, TrunkKind
from firmware_bridge.calls import CallState
from firmware_bridge.modem import Modem
from firmware_bridge.simulator import ModemSimulator
from firmware_bridge.voice import GatewayCallEnded, GatewayConfig, VoiceGateway
from provisioning.secrets import SecretBox, load_or_create_key
from tests.integration.gsm.support import Events, pcm_wav, until
from tests.support.appliance import Appliance, make_appliance
from tests.support.audio import has_tone
from tests.support.net import free_port
from tests.support.phone import Phone
from tests.support.sipp import sipp

DID = "442071234599"
# E.164 with '+': Kamailio URL-encodes it in the /route query (it once arrived as a space).
CALLER = "+972501234567"
NATIONAL = "0301234567"


@dataclass
class Box:
    """The running appliance, the gateway's SIP port and registered extensions 101, 102."""

    app: Appliance
    gateway_port: int
    itsp_port: int  # a SIP trunk before the GSM one on the mobile route; a test's SIPp answers 503 there
    alice: Phone  # extension 101
    bob: Phone  # extension 102, auto-answering


async def _preseed(data_dir: Path, gateway_port: int, itsp_port: int) -> None:
    db = await open_db(data_dir / "appliance.db")
    try:
        store = TrunkStore(db, SecretBox(load_or_create_key(data_dir / "keys" / "trunks.key")))
        await store.put_trunk(Trunk("gsm", TrunkKind.GSM, "127.0.0.1", gateway_port,
                                    health_check=False), None, create=True)
        cid = {TrunkKind.GSM: CallerIdRule(CallerIdMode.KEEP),
               TrunkKind.SIP: CallerIdRule(CallerIdMode.KEEP)}
        await store.put_route(OutboundRoute("national", r"0[1-6][0-9]{8}", ("gsm",), cid,
                                            record=False), create=True)
        await store.put_trunk(Trunk("itsp", TrunkKind.SIP, "127.0.0.1", itsp_port, health_check=False),
                              None, create=True)
        await store.put_route(OutboundRoute("mobile", r"07[0-9]{8}", ("itsp", "gsm"), cid, record=False),
                              create=True)
        # The GSM line's DID opens IVR 810: a caller who presses nothing is put through to 102.
        menu = {"entry": "menu:main", "menus": {"main": {
            "prompt": "say:Hello.", "options": {"1": "extension:102"}, "timeout_s": 1, "max_retries": 0,
            "on_fail": "extension:102"}}}
        await db.execute("INSERT INTO ivrs(number, name, language, config, updated_at)"
                         " VALUES ('810', 'GSM line', 'en', ?, '')", (json.dumps(menu),))
        await db.execute("INSERT INTO dids(did, destination) VALUES (?, 'ivr:810')", (DID,))
        await db.commit()
    finally:
        await db.close()


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    data_dir = Path(tmp_path_factory.mktemp("gsmbox")) / "data"
    data_dir.mkdir()
    (data_dir / "appliance.json").write_text(json.dumps({"extra": {}}))
    gateway_port, itsp_port = free_port(), free_port()
    asyncio.run(_preseed(data_dir, gateway_port, itsp_port))
    app = make_appliance(data_dir, workers=2)
    app.start()
    try:
        with Phone() as alice, Phone() as bob:
            assert alice.register("101", app.passwords["101"], registrar=app.sip) == 200
            assert bob.register("102", app.passwords["102"], registrar=app.sip) == 200
            bob.auto_answer(True)
            yield Box(app, gateway_port, itsp_port, alice, bob)
    finally:
        app.stop()


@pytest.fixture
async def box_gateway(box: Box, modem: Modem, sim: ModemSimulator,
                      gateway_events: Events) -> AsyncIterator[VoiceGateway]:
    config = GatewayConfig(sip_port=box.gateway_port, did=DID,
                           inbound_uri=f"sip:{{did}}@{box.app.sip}")
    gw = VoiceGateway(modem, sim.audio_port, config)
    gw.add_listener(gateway_events.add)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


async def closed_cdr(box: Box, sql: str, args: tuple[str, ...]) -> dict[str, object]:
    rows = await asyncio.to_thread(box.app.wait_rows, sql + " AND ended_at IS NOT NULL", args)
    return dict(rows[-1])


async def test_inbound_gsm_call_through_the_ivr_to_an_extension_with_audio(
        box: Box, box_gateway: VoiceGateway, sim: ModemSimulator, modem: Modem,
        gateway_events: Events, tmp_path: Path) -> None:
    sim.incoming_call(CALLER)
    leg = await asyncio.to_thread(box.bob.incoming, 15)
    assert CALLER in box.bob.info(leg).from_uri  # the caller's number reaches the agent
    await asyncio.to_thread(box.bob.wait, leg, "confirmed", 15)
    heard = str(tmp_path / "bob.wav")
    await asyncio.to_thread(box.bob.record_rx, leg, heard)
    await asyncio.to_thread(box.bob.send_tone, leg, 440)
    await until(lambda: modem.calls.state is CallState.ACTIVE and sim.pcm_flowing, "GSM answered")
    talk_from = len(sim.pcm_received)  # the IVR answered the GSM call before 102 was rung
    await until(lambda: len(sim.pcm_received) >= talk_from + 8000 * 2 * 3, "3 s of talk at the modem")
    sim.remote_hangup()  # the GSM caller hangs up
    await asyncio.to_thread(box.bob.wait, leg, "disconnected", 10)
    ended = await gateway_events.wait_for(lambda e: isinstance(e, GatewayCallEnded))
    assert ended.answered and ended.cause == "gsm hangup"
    assert has_tone(heard, 1000, start_s=0.5), "extension 102 did not hear the GSM caller"
    assert has_tone(pcm_wav(sim, tmp_path / "modem.wav"), 440), "GSM caller did not hear 102"
    cdr = await closed_cdr(box, "SELECT * FROM cdrs WHERE callee = ?", (DID,))
    assert cdr["caller"] == CALLER and cdr["answered_at"] is not None


async def test_extension_dials_out_over_the_gsm_trunk_with_audio(
        box: Box, box_gateway: VoiceGateway, sim: ModemSimulator, modem: Modem,
        gateway_events: Events, tmp_path: Path) -> None:
    call = await asyncio.to_thread(box.alice.call, f"sip:{NATIONAL}@{box.app.sip}", "101")
    await until(lambda: f"ATD{NATIONAL};" in sim.received_commands, "ATD on the modem")
    sim.remote_answer()
    await asyncio.to_thread(box.alice.wait, call, "confirmed", 15)
    heard = str(tmp_path / "alice.wav")
    await asyncio.to_thread(box.alice.record_rx, call, heard)
    await asyncio.to_thread(box.alice.send_tone, call, 440)
    await until(lambda: sim.pcm_flowing, "PCM on the modem")
    await until(lambda: len(sim.pcm_received) >= 8000 * 2 * 2, "2 s of audio at the modem")
    await asyncio.to_thread(box.alice.hangup, call)
    await asyncio.to_thread(box.alice.wait, call, "disconnected", 10)
    await gateway_events.wait_for(lambda e: isinstance(e, GatewayCallEnded))
    await until(lambda: modem.calls.state is CallState.IDLE, "the GSM call to end")
    assert has_tone(heard, 1000, start_s=0.5), "101 did not hear the GSM far end"
    assert has_tone(pcm_wav(sim, tmp_path / "modem.wav"), 440), "the far end did not hear 101"
    cdr = await closed_cdr(box, "SELECT * FROM cdrs WHERE kind = 'outbound' AND callee = ?",
                           (NATIONAL,))
    assert cdr["answered_by"] == "trunk:gsm"


async def test_modem_reset_mid_call_ends_the_box_call_with_a_closed_cdr(
        box: Box, box_gateway: VoiceGateway, sim: ModemSimulator, modem: Modem,
        gateway_events: Events) -> None:
    caller = "0509999999"
    sim.incoming_call(caller)
    leg = await asyncio.to_thread(box.bob.incoming, 15)
    await asyncio.to_thread(box.bob.wait, leg, "confirmed", 15)
    await until(lambda: sim.pcm_flowing, "GSM call up with audio")
    sim.power_cycle()
    await asyncio.to_thread(box.bob.wait, leg, "disconnected", 10)
    ended = await gateway_events.wait_for(lambda e: isinstance(e, GatewayCallEnded))
    assert ended.cause == "modem lost"
    cdr = await closed_cdr(box, "SELECT * FROM cdrs WHERE caller = ?", (caller,))
    assert cdr["answered_at"] is not None and cdr["ended_at"] is not None


ITSP_503 = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="ITSP trunk down: 503 to every INVITE">
  <recv request="INVITE"/>
  <send><![CDATA[
      SIP/2.0 503 Service Unavailable
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
  <recv request="ACK"/>
</scenario>
"""


async def test_sip_trunk_answering_503_fails_over_to_the_gsm_line(
        box: Box, box_gateway: VoiceGateway, sim: ModemSimulator, modem: Modem,
        gateway_events: Events, tmp_path: Path) -> None:
    mobile = "0712345678"
    scenario = tmp_path / "itsp_503.xml"
    scenario.write_text(ITSP_503)
    itsp = sipp(["-sf", str(scenario), "-i", "127.0.0.1", "-p", str(box.itsp_port), "-m", "1",
                 "-timeout", "30s"], tmp_path, "itsp.log")
    try:
        call = await asyncio.to_thread(box.alice.call, f"sip:{mobile}@{box.app.sip}", "101")
        await until(lambda: f"ATD{mobile};" in sim.received_commands, "ATD on the modem after the 503")
        sim.remote_answer()
        await asyncio.to_thread(box.alice.wait, call, "confirmed", 15)
        heard = str(tmp_path / "alice.wav")
        await asyncio.to_thread(box.alice.record_rx, call, heard)
        await asyncio.to_thread(box.alice.send_tone, call, 440)
        await until(lambda: len(sim.pcm_received) >= 8000 * 2 * 2, "2 s of audio at the modem")
        await asyncio.to_thread(box.alice.hangup, call)
        await asyncio.to_thread(box.alice.wait, call, "disconnected", 10)
        assert await asyncio.to_thread(itsp.wait, 30) == 0, (tmp_path / "itsp.log").read_text(errors="replace")[-1500:]
    finally:
        if itsp.poll() is None:
            itsp.kill()
            itsp.wait()
    await until(lambda: modem.calls.state is CallState.IDLE, "the GSM call to end")
    assert has_tone(heard, 1000, start_s=0.5), "101 did not hear the GSM far end"
    assert has_tone(pcm_wav(sim, tmp_path / "modem_fo.wav"), 440), "the far end did not hear 101"
    cdr = await closed_cdr(box, "SELECT * FROM cdrs WHERE kind = 'outbound' AND callee = ?", (mobile,))
    assert cdr["answered_by"] == "trunk:gsm"
