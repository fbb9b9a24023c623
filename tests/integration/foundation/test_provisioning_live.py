"""Provisioning in the running appliance: a phone asks, is listed as pending, the admin
assigns it, it gets its config over HTTPS with its own credentials, the SIP password in
that config registers at the edge, a check-sync NOTIFY reaches the phone, and revoking it
locks it out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.appliance import Appliance, make_appliance
from tests.support.sipreg import SipClient

MAC = "805ec0a1b2c3"
YEALINK = "Yealink SIP-T46S 66.86.0.15 80:5e:c0:a1:b2:c3"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Appliance]:
    app = make_appliance(tmp_path / "box", workers=1)
    app.start()
    try:
        yield app
    finally:
        app.stop()


def test_phone_is_provisioned_end_to_end(box: Appliance) -> None:
    base = f"https://127.0.0.1:{box.web_port}"
    phone = httpx.Client(base_url=base, verify=False, headers={"user-agent": YEALINK}, timeout=10)
    admin = httpx.Client(base_url=base, verify=False, timeout=10)
    # an unknown phone gets 404 and is listed as pending
    assert phone.get(f"/prov/{MAC}.cfg").status_code == 404
    assert admin.get("/api/v1/provisioning/devices").status_code == 401  # admin only
    r = admin.post("/api/v1/setup", json={"username": "admin", "password": "a long enough passphrase 1"})
    assert r.status_code == 201, r.text
    admin.headers["x-csrf-token"] = r.json()["csrf_token"]
    pending = admin.get("/api/v1/provisioning/devices", params={"state": "pending"}).json()
    assert [d["mac"] for d in pending] == [MAC]

    with SipClient("127.0.0.1", timeout=5) as desk:  # the phone's SIP side, registered as 103
        assert desk.register("103", box.passwords["103"], ("127.0.0.1", box.sip_port)) == 200
        r = admin.post(f"/api/v1/provisioning/devices/{MAC}/assign", json={"extension": "103"})
        assert r.status_code == 200, r.text
        creds = r.json()
        notify = desk.recv()  # check-sync tells the phone to fetch its new config
        assert notify is not None and notify.startswith(b"NOTIFY ") and b"check-sync" in notify.lower()

    # zero touch: the phone the admin picked, asking again from where it was seen, gets its
    # config once without typing anything (with HTTP credentials of its own inside)
    first = phone.get(f"/prov/{MAC}.cfg")
    assert first.status_code == 200
    assert phone.get(f"/prov/{MAC}.cfg").status_code == 401  # only once: no credentials, no secrets
    assert phone.get(f"/prov/{MAC}.cfg", auth=("wrong", "wrong")).status_code == 401
    # from now on the phone uses the HTTP credentials its config carries
    user = re.search(r"^static\.auto_provision\.server\.username = (.+)$", first.text, re.M)
    pw = re.search(r"^static\.auto_provision\.server\.password = (.+)$", first.text, re.M)
    assert user and pw and user.group(1).strip() == creds["http_username"]
    r = phone.get(f"/prov/{MAC}.cfg", auth=(user.group(1).strip(), pw.group(1).strip()))
    assert r.status_code == 200, r.status_code
    cfg = r.text
    assert "account.1.user_name = 103" in cfg
    sip_password = re.search(r"^account\.1\.password = (.+)$", cfg, re.M).group(1).strip()  # type: ignore[union-attr]
    # the password the phone got really registers at the box
    with SipClient("127.0.0.1") as sip:
        assert sip.register("103", sip_password, ("127.0.0.1", box.sip_port)) == 200

    assert admin.post(f"/api/v1/provisioning/devices/{MAC}/revoke").status_code == 200
    r = phone.get(f"/prov/{MAC}.cfg", auth=(user.group(1).strip(), pw.group(1).strip()))
    assert r.status_code == 401
