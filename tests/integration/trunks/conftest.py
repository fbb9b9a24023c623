"""Fixtures: an appliance with trunks on loopback: SIPp and pjsua2 phones act as the trunks.

Trunks (all 127.0.0.1):
- itsp (sip, port itsp):   a SIPp UAS started by the test that needs it (answers 503); no pings
- dead (sip, port dead):   nothing listens; no pings (so it is tried and times out)
- primary (sip, port primary): a pjsua2 phone, pinged with OPTIONS (health)
- authed (sip, port authed): a SIPp UAS that challenges (digest acct1), then answers 503
- gsm (gsm, port gsm):     a pjsua2 phone standing in for the GSM gateway, auto-answering
Routes: national 0XXXXXXXXX -> itsp, gsm; timeout 1XXXXXX -> dead, gsm;
        health 2XXXXXX -> primary, gsm; auth 3XXXXXX -> authed, gsm; intl 00... -> gsm.
DID 442071234500 -> extension 102.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.storage.db import open_db
from appliance.storage.trunks import TrunkStore
from appliance.trunks.model import CallerIdMode, CallerIdRule, OutboundRoute, Trunk, TrunkKind
from provisioning.secrets import SecretBox, load_or_create_key
from tests.support.appliance import Appliance, make_appliance
from tests.support.net import free_ports
from tests.support.phone import Phone

DID = "442071234500"  # a DID routed to extension 102 (the IVR engineer's dids table)
SIP_CID = "+442071234567"  # fixed caller-ID on SIP trunks
TRUNK_USER, TRUNK_PASSWORD = "acct1", "trunk-secret-1"  # the "authed" trunk's digest account
GSM_PREFIX = "+4477009"  # GSM trunks present prefix + extension


@dataclass
class TrunkPorts:
    """Where each trunk listens."""

    itsp: int
    dead: int
    primary: int
    gsm: int
    authed: int


@dataclass
class TrunkBox:
    """The running appliance, its trunks' ports and the GSM stand-in phone."""

    app: Appliance
    ports: TrunkPorts
    gsm: Phone
    primary: Phone  # a test may stop it and put a new one in its place
    data_dir: Path


async def _preseed(data_dir: Path, ports: TrunkPorts) -> None:
    db = await open_db(data_dir / "appliance.db")
    try:
        store = TrunkStore(db, SecretBox(load_or_create_key(data_dir / "keys" / "trunks.key")))
        for t in (
            Trunk("itsp", TrunkKind.SIP, "127.0.0.1", ports.itsp, health_check=False),
            Trunk("dead", TrunkKind.SIP, "127.0.0.1", ports.dead, health_check=False, answer_timeout_s=2),
            Trunk("primary", TrunkKind.SIP, "127.0.0.1", ports.primary),
            Trunk("gsm", TrunkKind.GSM, "127.0.0.1", ports.gsm),
        ):
            await store.put_trunk(t, None, create=True)
        authed = Trunk("authed", TrunkKind.SIP, "127.0.0.1", ports.authed, username=TRUNK_USER, health_check=False)
        await store.put_trunk(authed, TRUNK_PASSWORD, create=True)
        cid = {
            TrunkKind.SIP: CallerIdRule(CallerIdMode.FIXED, number=SIP_CID),
            TrunkKind.GSM: CallerIdRule(CallerIdMode.REWRITE, prefix=GSM_PREFIX),
        }
        for r in (
            OutboundRoute("national", r"0[1-9][0-9]{8}", ("itsp", "gsm"), cid, record=True),
            OutboundRoute("timeout", r"1[0-9]{6}", ("dead", "gsm"), cid, record=False),
            OutboundRoute("health", r"2[0-9]{6}", ("primary", "gsm"), cid, record=False),
            OutboundRoute("auth", r"3[0-9]{6}", ("authed", "gsm"), cid, record=False),
            OutboundRoute("intl", r"00[0-9]{8,15}", ("gsm",), cid, record=False),
        ):
            await store.put_route(r, create=True)
        await db.execute("INSERT INTO dids(did, destination) VALUES (?, 'extension:102')", (DID,))
    finally:
        await db.close()


@pytest.fixture(scope="module")
def trunk_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrunkBox]:
    """One appliance with 2 workers and the trunks above; the GSM stand-in auto-answers."""
    data_dir = Path(tmp_path_factory.mktemp("trunks")) / "data"
    data_dir.mkdir()
    ports = TrunkPorts(*free_ports(5))
    (data_dir / "appliance.json").write_text(json.dumps({"extra": {"trunks": {
        "health_interval_s": 0.5, "ping_timeout_s": 0.5, "fail_threshold": 2, "ok_threshold": 2,
    }}}))
    asyncio.run(_preseed(data_dir, ports))
    gsm = Phone(port=ports.gsm).start()
    primary = Phone(port=ports.primary)
    try:
        gsm.auto_answer(True)
        primary.start().auto_answer(True)
        app = make_appliance(data_dir, workers=2)
        app.start()
        tb = TrunkBox(app, ports, gsm, primary, data_dir)
        try:
            yield tb
        finally:
            app.stop()
            tb.primary.stop()
    finally:
        primary.stop()
        gsm.stop()
