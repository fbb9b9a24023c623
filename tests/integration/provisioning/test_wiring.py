"""The wired provisioning: plug in, PnP lists the phone, assign, the phone enrolls."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from appliance.storage.db import open_db
from provisioning import sip
from provisioning.profile import SiteSettings
from provisioning.server import install_error_handler
from provisioning.wiring import build_provisioning
from tests.support.net import free_port

from .conftest import YEALINK_UA, ContactTable
from .test_pnp import subscribe
from .test_sealed_secrets import NumberPlan
from .udp import open_phone


async def test_plug_in_pnp_assign_and_fetch(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "appliance.db")
    plan = NumberPlan()
    site = SiteSettings(sip_host="127.0.0.1", provisioning_url="https://box.lan/prov/")
    contacts = ContactTable()
    prov = build_provisioning(db, tmp_path, site, plan, plan, contacts,
                              sip_local_host="127.0.0.1")
    app = FastAPI()
    install_error_handler(app)
    app.include_router(prov.config_routes, prefix="/prov")
    app.include_router(prov.admin_routes, prefix="/api/provisioning")
    transport, responder = await prov.start_pnp("127.0.0.1", free_port())
    phone_sip = await open_phone()
    contacts.contacts["1001"] = "sip:1001@{}:{}".format(*phone_sip.address)
    try:
        phone_sip.send(subscribe("MAC%3a001565aabbcc", "w1", phone_sip.address[1]),
                       transport.get_extra_info("sockname")[:2])
        await phone_sip.receive()
        notify, _ = await phone_sip.receive()
        assert notify.body.decode() == site.provisioning_url
        await responder.wait_reports()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="https://box.lan") as admin:
            pending = (await admin.get("/api/provisioning/devices?state=pending")).json()
            assert [d["mac"] for d in pending] == ["001565aabbcc"]
            assert pending[0]["last_ip"] == "127.0.0.1"
            r = await admin.post("/api/provisioning/devices/001565aabbcc/assign",
                                 json={"extension": "1001"})
            assert r.status_code == 200
        check_sync, addr = await phone_sip.receive()  # the phone is told to fetch now
        assert check_sync.header("event") == "check-sync"
        phone_sip.send(sip.response(check_sync, 200, "OK", "p"), addr)
        # The PnP address is where the phone was seen, so it enrolls from there.
        phone_http = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=phone_http, base_url="https://box.lan",
                                     headers={"User-Agent": YEALINK_UA}) as phone:
            cfg = await phone.get("/prov/001565aabbcc.cfg")
        assert cfg.status_code == 200
        assert "account.1.password = Fresh1Pw1001" in cfg.text
        await prov.service.wait_notifications()
    finally:
        transport.close()
        assert phone_sip.transport is not None
        phone_sip.transport.close()
        await db.close()
    assert (tmp_path / "keys" / "provisioning.key").stat().st_mode & 0o077 == 0
