"""Headless Chromium on a phone-sized screen: an admin adds a SIP trunk on /trunks and watches its
live status turn up without reloading (a real SIPp answering OPTIONS), then adds an outbound route
on /routes that uses it. Screenshots kept."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import uvicorn
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from appliance.app import build_controller
from appliance.config import Settings
from appliance.web_services.certs import ensure_certificate
from tests.integration.web.conftest import Served
from tests.integration.web.test_browser import artifacts_dir, browser, log_in
from tests.support.net import free_port
from tests.support.sipp import sipp
from web.local.app import build_web_app

pytestmark = pytest.mark.integration

PASSWORD = "routing admin pw"
OPTIONS_UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answer OPTIONS like a trunk">
  <recv request="OPTIONS"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]trunk[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
</scenario>
"""


@pytest.fixture
async def served_fast(tmp_path: Path) -> AsyncIterator[Served]:
    """The web app over TLS (as in conftest.served) with trunk health pings every 0.5 s."""
    extra = {"trunks": {"health_interval_s": 0.5, "ping_timeout_s": 0.5, "fail_threshold": 2, "ok_threshold": 2}}
    ctl = await build_controller(Settings(data_dir=tmp_path / "data", demo=False, extra=extra))
    cert, key = ensure_certificate(ctl.settings.data_dir)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_web_app(ctl), host="127.0.0.1", port=port, ssl_certfile=str(cert),
                                           ssl_keyfile=str(key), log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):  # uvicorn exposes no started event; bounded wait on its flag
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield Served(f"https://127.0.0.1:{port}", cert, ctl)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        from appliance.controller.outbound import find_service

        await find_service(ctl.sessions.flows).monitor.stop()
        await ctl.db.close()


def state_cell(driver: WebDriver, name: str) -> str:
    """The trunk's state as the page shows it now."""
    return str(driver.find_element(By.CSS_SELECTOR, f'tr[data-trunk="{name}"] [data-field="state"]').text)


def add_trunk_watch_it_come_up_and_add_a_route(url: str, shots: Path, profile: Path, trunk_port: int,
                                               start_trunk: Callable[[], None]) -> dict[str, object]:
    """What an admin does on a phone; returns what the pages showed."""
    seen: dict[str, object] = {}
    driver = browser(profile)
    try:
        driver.set_page_load_timeout(30)
        driver.implicitly_wait(10)
        wait = WebDriverWait(driver, 15)
        log_in(driver, url, "admin", PASSWORD)
        driver.find_element(By.LINK_TEXT, "Trunks").click()
        wait.until(EC.url_to_be(url + "/trunks"))
        form = driver.find_element(By.ID, "trunk-create")
        form.find_element(By.NAME, "name").send_keys("itsp")
        Select(form.find_element(By.NAME, "kind")).select_by_value("sip")
        form.find_element(By.NAME, "host").send_keys("127.0.0.1")
        port = form.find_element(By.NAME, "port")
        port.clear()
        port.send_keys(str(trunk_port))
        form.find_element(By.NAME, "username").send_keys("acct1")
        form.find_element(By.NAME, "password").send_keys("trunk-secret-1")
        form.find_element(By.CSS_SELECTOR, "button.primary").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-trunk="itsp"]'))
        # nobody answers yet: the pings fail and the trunk is marked down (seen through the poll)
        wait.until(lambda d: state_cell(d, "itsp") == "down")
        seen["password_shown"] = "trunk-secret-1" in driver.page_source
        driver.save_screenshot(str(shots / "routing-1-trunk-down.png"))
        driver.execute_script("window.__notReloaded = true;")
        start_trunk()
        t0 = time.monotonic()
        wait.until(lambda d: state_cell(d, "itsp") == "up")
        seen["up_after_s"] = time.monotonic() - t0
        seen["not_reloaded"] = driver.execute_script("return window.__notReloaded === true;")
        row = driver.find_element(By.CSS_SELECTOR, 'tr[data-trunk="itsp"]')
        seen["last_answer"] = row.find_element(By.CSS_SELECTOR, '[data-field="last_code"]').text
        seen["since"] = row.find_element(By.CSS_SELECTOR, '[data-field="since"]').text
        driver.save_screenshot(str(shots / "routing-2-trunk-up.png"))
        driver.get(url + "/routes")
        form = driver.find_element(By.ID, "route-create")
        form.find_element(By.NAME, "name").send_keys("national")
        form.find_element(By.NAME, "pattern").send_keys("0[1-9][0-9]{8}")
        form.find_element(By.NAME, "trunks").send_keys("itsp")
        Select(form.find_element(By.NAME, "cid_sip_mode")).select_by_value("fixed")
        form.find_element(By.NAME, "cid_sip_number").send_keys("+442071234567")
        form.find_element(By.CSS_SELECTOR, "button.primary").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-route="national"]'))
        seen["route_row"] = driver.find_element(By.CSS_SELECTOR, 'tr[data-route="national"]').text
        seen["overflow"] = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        driver.save_screenshot(str(shots / "routing-3-route.png"))
        driver.get(url + "/trunks?lang=he")
        seen["he_state"] = state_cell(driver, "itsp")
        seen["direction"] = driver.execute_script("return getComputedStyle(document.body).direction")
        driver.save_screenshot(str(shots / "routing-4-trunks-he.png"))
        seen["console_errors"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        driver.quit()
    return seen


async def test_admin_adds_a_trunk_sees_it_come_up_live_and_adds_a_route(served_fast: Served, tmp_path: Path) -> None:
    served = served_fast
    async with httpx.AsyncClient(verify=False, base_url=served.url) as c:
        r = await c.post("/api/v1/setup", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 201, r.text
    shots = artifacts_dir(tmp_path)
    trunk_port = free_port()
    (tmp_path / "options.xml").write_text(OPTIONS_UAS)
    procs: list[subprocess.Popen[bytes]] = []

    def start_trunk() -> None:  # a real SIP UA answering OPTIONS where the trunk points
        procs.append(sipp(["-sf", "options.xml", "-i", "127.0.0.1", "-p", str(trunk_port), "-m", "10000"],
                          tmp_path, "trunk.log"))

    try:
        seen = await asyncio.to_thread(add_trunk_watch_it_come_up_and_add_a_route, served.url, shots,
                                       tmp_path / "profile", trunk_port, start_trunk)
    finally:
        for p in procs:
            p.terminate()
            p.wait(5)
    assert seen["password_shown"] is False
    assert seen["not_reloaded"] is True  # the status changed in place (trunks.js poll)
    assert seen["last_answer"] == "200" and str(seen["since"]).startswith("20")
    assert "national" in str(seen["route_row"]) and "itsp" in str(seen["route_row"])
    assert "+442071234567" in str(seen["route_row"])
    assert seen["overflow"] == 0
    assert seen["he_state"] == "פעיל" and seen["direction"] == "rtl"
    assert seen["console_errors"] == []
    assert len(list(shots.glob("routing-*.png"))) == 4
    async with served.ctl.db.execute("SELECT name, port FROM trunks") as cur:
        assert [tuple(r) for r in await cur.fetchall()] == [("itsp", trunk_port)]
    async with served.ctl.db.execute("SELECT name, pattern FROM outbound_routes") as cur:
        assert [tuple(r) for r in await cur.fetchall()] == [("national", "0[1-9][0-9]{8}")]
    print(f"trunk up on the page {seen['up_after_s']:.2f} s after the SIP UA started")
