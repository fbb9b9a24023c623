"""The config server over HTTP: credentials, tokens, unknown MACs, revocation, rate limit."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import httpx
import pytest

from provisioning.model import State, Vendor
from provisioning.server import redact_tokens_in_logs

from .conftest import PHONE_IP, YEALINK_UA, Box

MAC = "001565aabbcc"


async def admin_post(box: Box, path: str, json: object = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=box.app, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="https://box.lan") as c:
        return await c.post("/api/provisioning" + path, json=json)


async def admin_call(box: Box, method: str, path: str, json: object = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=box.app, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="https://box.lan") as c:
        return await c.request(method, "/api/provisioning" + path, json=json)


async def test_unknown_mac_gets_404_and_becomes_a_pending_device(box: Box) -> None:
    async with box.client() as phone:
        r = await phone.get(f"/{MAC}.cfg", headers={"User-Agent": YEALINK_UA})
    assert r.status_code == 404
    assert "sip-Secret" not in r.text
    listed = (await admin_call(box, "GET", "/devices?state=pending")).json()
    assert [(d["mac"], d["vendor"], d["model"], d["last_ip"]) for d in listed] == [
        (MAC, "yealink", "T46S", PHONE_IP)]
    assert listed[0]["first_seen"] == box.clock.now()


async def test_vendor_is_taken_from_the_file_name_when_the_user_agent_says_nothing(
    box: Box,
) -> None:
    async with box.client(user_agent="") as phone:
        assert (await phone.get("/cfg000b82aabbcc.xml")).status_code == 404
        assert (await phone.get("/spa0018f8aabbcc.xml")).status_code == 404
    vendors = {d.mac: d.vendor for d in await box.service.devices(State.PENDING)}
    assert vendors == {"000b82aabbcc": Vendor.GRANDSTREAM, "0018f8aabbcc": Vendor.CISCO}


async def test_right_credentials_get_the_config_with_the_account(box: Box) -> None:
    async with box.client() as phone:
        await phone.get(f"/{MAC}.cfg", headers={"User-Agent": YEALINK_UA})
    creds = (await admin_post(box, f"/devices/{MAC}/assign", {"extension": "1001"})).json()
    assert creds["http_password"] and creds["enrollment_url"]
    async with box.client() as phone:
        r = await phone.get(f"/{MAC}.cfg", auth=(creds["http_username"], creds["http_password"]),
                            headers={"User-Agent": YEALINK_UA})
    assert r.status_code == 200
    assert r.text.startswith("#!version:1.0.0.1\n")
    assert "account.1.password = sip-Secret-1001\n" in r.text
    assert "account.1.display_name = Zoë & <Sales> \"א\"\n" in r.text
    assert "linekey.5.value = 1002\n" in r.text  # colleague BLF after the three queue keys
    assert r.headers["cache-control"] == "no-store"
    device = await box.store.get(MAC)
    assert device is not None and device.last_seen == box.clock.now()


async def test_wrong_or_missing_credentials_get_401_and_change_nothing(box: Box) -> None:
    creds = (await admin_post(box, f"/devices/{MAC}/assign", {"extension": "1001"})).json()
    before = await box.store.get(MAC)
    box.clock.advance(30)
    attempts: list[tuple[str, str] | None] = [
        None, (creds["http_username"], "wrong"), ("phone-0015650000ff", creds["http_password"]),
        ("", ""),
    ]
    async with box.client() as phone:
        for auth in attempts:
            r = await phone.get(f"/{MAC}.cfg", auth=auth)
            assert r.status_code == 401
            assert r.headers["www-authenticate"].startswith("Basic")
            assert "sip-Secret" not in r.text
        r = await phone.get(f"/{MAC}.cfg", headers={"Authorization": "Basic !!notbase64"})
        assert r.status_code == 401
    assert await box.store.get(MAC) == before


async def test_basic_credentials_over_plain_http_are_refused(box: Box) -> None:
    creds = (await admin_post(box, f"/devices/{MAC}/assign", {"extension": "1001"})).json()
    async with box.client(scheme="http") as phone:
        r = await phone.get(f"/{MAC}.cfg", auth=(creds["http_username"], creds["http_password"]))
    assert r.status_code == 401
    assert "sip-Secret" not in r.text


async def test_enrollment_token_works_once_and_hands_over_fresh_credentials(box: Box) -> None:
    creds = (await admin_post(box, f"/devices/{MAC}/assign", {"extension": "1001"})).json()
    url = str(creds["enrollment_url"])
    assert url.startswith("https://box.lan/prov/t/")
    token_path = url.removeprefix("https://box.lan/prov")
    async with box.client(scheme="http") as phone:
        first = await phone.get(f"{token_path}{MAC}.cfg")
        second = await phone.get(f"{token_path}{MAC}.cfg")
    assert first.status_code == 200
    assert "account.1.password = sip-Secret-1001" in first.text
    assert second.status_code == 401 and "sip-Secret" not in second.text
    # The config names fresh HTTP credentials; the phone uses them from now on.
    lines = dict(line.split(" = ", 1) for line in first.text.splitlines() if " = " in line)
    user = lines["static.auto_provision.server.username"]
    password = lines["static.auto_provision.server.password"]
    assert user == creds["http_username"] and password != creds["http_password"]
    async with box.client() as phone:
        assert (await phone.get(f"/{MAC}.cfg", auth=(user, password))).status_code == 200
        stale = await phone.get(f"/{MAC}.cfg", auth=(user, str(creds["http_password"])))
        assert stale.status_code == 401


async def test_expired_enrollment_token_is_refused(box: Box) -> None:
    creds = (await admin_post(box, f"/devices/{MAC}/assign", {"extension": "1001"})).json()
    box.clock.advance(box.service.options.token_ttl_seconds + 1)
    path = str(creds["enrollment_url"]).removeprefix("https://box.lan/prov")
    async with box.client() as phone:
        assert (await phone.get(f"{path}{MAC}.cfg")).status_code == 401


async def test_token_of_one_phone_does_not_open_another(box: Box) -> None:
    a = (await admin_post(box, f"/devices/{MAC}/assign", {"extension": "1001"})).json()
    await admin_post(box, "/devices/001565000002/assign", {"extension": "1002"})
    path = str(a["enrollment_url"]).removeprefix("https://box.lan/prov")
    async with box.client() as phone:
        r = await phone.get(f"{path}001565000002.cfg")
    assert r.status_code == 401 and "sip-Secret" not in r.text


async def test_revoked_device_is_refused_and_removed_device_is_unknown(box: Box) -> None:
    creds = (await admin_post(box, f"/devices/{MAC}/assign", {"extension": "1001"})).json()
    auth = (creds["http_username"], creds["http_password"])
    r = await admin_post(box, f"/devices/{MAC}/revoke")
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    async with box.client() as phone:
        assert (await phone.get(f"/{MAC}.cfg", auth=auth)).status_code == 401
    assert (await admin_post(box, f"/devices/{MAC}/revoke")).status_code == 409
    assert (await admin_call(box, "DELETE", f"/devices/{MAC}")).status_code == 204
    async with box.client() as phone:
        r = await phone.get(f"/{MAC}.cfg", auth=auth)
    assert r.status_code == 404 and "sip-Secret" not in r.text


async def test_burst_of_unknown_macs_is_rate_limited(box: Box) -> None:
    statuses = []
    async with box.client() as scanner:
        for i in range(25):
            statuses.append((await scanner.get(f"/0015650000{i:02x}.cfg")).status_code)
    assert statuses[:10] == [404] * 10
    assert set(statuses[10:]) == {429}
    # Only the misses that were answered were recorded; the limited ones changed nothing.
    assert len(await box.service.devices(State.PENDING)) == 10
    async with box.client("192.0.2.51") as other_phone:
        assert (await other_phone.get("/001565000099.cfg")).status_code == 404
    box.clock.advance(10.0)  # one token back at 0.1 per second
    async with box.client() as scanner:
        assert (await scanner.get("/001565000098.cfg")).status_code == 404
        assert (await scanner.get("/001565000097.cfg")).status_code == 429


async def test_guessing_passwords_is_rate_limited_too(box: Box) -> None:
    creds = (await admin_post(box, f"/devices/{MAC}/assign", {"extension": "1001"})).json()
    async with box.client() as attacker:
        codes = [(await attacker.get(f"/{MAC}.cfg", auth=("x", str(i)))).status_code
                 for i in range(12)]
        assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
        # Even the right password is not checked while the source is limited.
        right = await attacker.get(f"/{MAC}.cfg",
                                   auth=(creds["http_username"], creds["http_password"]))
        assert right.status_code == 429


async def test_polycom_fetches_bootstrap_master_then_phone_file(box: Box) -> None:
    mac = "0004f2aabbcc"
    creds = (await admin_post(box, f"/devices/{mac}/assign",
                              {"extension": "1002", "vendor": "polycom"})).json()
    path = str(creds["enrollment_url"]).removeprefix("https://box.lan/prov")
    async with box.client() as phone:
        boot = await phone.get("/000000000000.cfg")
        master = await phone.get(f"{path}{mac}.cfg")  # master: token not spent
        account = await phone.get(f"{path}{mac}-phone.cfg")  # account: token spent
        again = await phone.get(f"{path}{mac}-phone.cfg")
    assert boot.status_code == 200
    assert ET.fromstring(boot.text).get("CONFIG_FILES") == "[PHONE_MAC_ADDRESS]-phone.cfg"
    assert ET.fromstring(master.text).get("CONFIG_FILES") == f"{mac}-phone.cfg"
    assert account.status_code == 200
    reg = ET.fromstring(account.text).find("reg")
    assert reg is not None and reg.get("reg.1.auth.password") == "sip-Secret-1002"
    assert again.status_code == 401


async def test_grandstream_and_cisco_file_names_serve_their_formats(box: Box) -> None:
    for mac, vendor, name, tag in (
        ("000b82aabbcc", "grandstream", "cfg000b82aabbcc.xml", "gs_provision"),
        ("0018f8aabbcc", "cisco", "spa0018f8aabbcc.xml", "flat-profile"),
        ("0c383eaabbcc", "fanvil", "0c383eaabbcc.cfg", "sysConf"),
    ):
        creds = (await admin_post(box, f"/devices/{mac}/assign",
                                  {"extension": "1003", "vendor": vendor})).json()
        async with box.client() as phone:
            r = await phone.get(f"/{name}", auth=(creds["http_username"],
                                                  creds["http_password"]))
        assert r.status_code == 200, vendor
        root = ET.fromstring(r.text)
        assert root.tag == tag
        assert "sip-Secret-1003" in r.text


async def test_moving_a_phone_keeps_its_credentials_and_serves_the_new_account(box: Box) -> None:
    creds = (await admin_post(box, f"/devices/{MAC}/assign", {"extension": "1001"})).json()
    moved = (await admin_post(box, f"/devices/{MAC}/assign", {"extension": "1002"})).json()
    assert moved["http_password"] is None and moved["device"]["extension"] == "1002"
    async with box.client() as phone:
        r = await phone.get(f"/{MAC}.cfg", auth=(creds["http_username"], creds["http_password"]))
    assert "account.1.password = sip-Secret-1002" in r.text


async def test_bad_admin_input_gets_a_clear_error_and_changes_nothing(box: Box) -> None:
    r = await admin_post(box, "/devices/not-a-mac/assign", {"extension": "1001"})
    assert r.status_code == 422 and r.json()["error_id"] == "invalid_mac"
    r = await admin_post(box, f"/devices/{MAC}/assign", {"extension": "9999"})
    assert r.status_code == 422 and r.json()["error_id"] == "unknown_extension"
    assert await box.service.devices() == []
    r = await admin_post(box, f"/devices/{MAC}/revoke")
    assert r.status_code == 404 and r.json()["error_id"] == "device_not_found"


async def test_pending_list_is_capped(box: Box) -> None:
    box.service.options.max_pending = 3
    for i in range(6):
        async with box.client(f"192.0.2.{100 + i}") as phone:
            assert (await phone.get(f"/0015650001{i:02x}.cfg")).status_code == 404
    assert len(await box.service.devices(State.PENDING)) == 3


async def test_secrets_never_reach_the_log(box: Box, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    redact_tokens_in_logs()  # access logs carry URLs, and the enrollment URL holds a token
    creds = (await admin_post(box, f"/devices/{MAC}/assign", {"extension": "1001"})).json()
    path = str(creds["enrollment_url"]).removeprefix("https://box.lan/prov")
    async with box.client() as phone:
        enrolled = await phone.get(f"{path}{MAC}.cfg")
        await phone.get(f"{path}{MAC}.cfg")
        await phone.get(f"/{MAC}.cfg", auth=(creds["http_username"], creds["http_password"]))
        await phone.get(f"/{MAC}.cfg", auth=(creds["http_username"], "guess"))
    rotated = next(line.split(" = ", 1)[1] for line in enrolled.text.splitlines()
                   if line.startswith("static.auto_provision.server.password"))
    token = path.split("/")[2]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "serving" in logged  # the log does say what happened
    for secret in ("sip-Secret-1001", creds["http_password"], rotated, token):
        assert secret not in logged


async def test_zero_touch_phone_seen_then_assigned_enrolls_from_its_address_once(
    box: Box,
) -> None:
    async with box.client() as phone:
        assert (await phone.get(f"/{MAC}.cfg")).status_code == 404  # plugged in: pending
    await admin_post(box, f"/devices/{MAC}/assign", {"extension": "1001"})
    async with box.client("192.0.2.66") as neighbour:  # another box on the LAN tries first
        r = await neighbour.get(f"/{MAC}.cfg")
        assert r.status_code == 401 and "sip-Secret" not in r.text
    async with box.client() as phone:
        enrolled = await phone.get(f"/{MAC}.cfg")  # the phone retries: no typing on it
        again = await phone.get(f"/{MAC}.cfg")
    assert enrolled.status_code == 200
    assert "account.1.password = sip-Secret-1001" in enrolled.text
    assert again.status_code == 401  # the window is spent
    lines = dict(line.split(" = ", 1) for line in enrolled.text.splitlines() if " = " in line)
    auth = (lines["static.auto_provision.server.username"],
            lines["static.auto_provision.server.password"])
    async with box.client() as phone:
        assert (await phone.get(f"/{MAC}.cfg", auth=auth)).status_code == 200


async def test_zero_touch_window_closes_after_its_time(box: Box) -> None:
    async with box.client() as phone:
        await phone.get(f"/{MAC}.cfg")
    await admin_post(box, f"/devices/{MAC}/assign", {"extension": "1001"})
    box.clock.advance(box.service.options.zero_touch_window_seconds + 1)
    async with box.client() as phone:
        r = await phone.get(f"/{MAC}.cfg")
    assert r.status_code == 401 and "sip-Secret" not in r.text
