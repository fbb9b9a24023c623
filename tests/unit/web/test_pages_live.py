"""Wallboard, agent desk and staffing pages: what each role sees, forms, refusals that change nothing."""

from __future__ import annotations

from tests.unit.web.conftest import Box, state_of_the_acd, user_id
from tests.unit.web.test_pages import page_login


async def test_wallboard_page_renders_the_board_and_loads_its_script(acd: Box) -> None:
    agent_api = await acd.login("agent")
    await agent_api.post("/api/v1/me/agent", json={"action": "login"})
    sup, _ = await page_login(acd, "sup")
    r = await sup.get("/wallboard")
    assert r.status_code == 200
    assert "700 Support queue" in r.text and 'data-wallboard="/api/v1/wallboard/stream"' in r.text
    assert '<script src="/static/wallboard.js" defer></script>' in r.text and "<script>" not in r.text
    assert (await sup.get("/static/wallboard.js")).status_code == 200
    agent, _ = await page_login(acd, "agent")
    assert (await agent.get("/wallboard")).status_code == 403
    assert 'href="/wallboard"' not in (await agent.get("/desk")).text  # not in an agent's navigation


async def test_desk_page_logs_in_and_pauses_with_a_reason(acd: Box) -> None:
    agent, token = await page_login(acd, "agent")
    page = await agent.get("/desk")
    assert page.status_code == 200 and 'value="login"' in page.text and "102" in page.text
    r = await agent.post("/desk", data={"action": "login", "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/desk"
    page = await agent.get("/desk")
    assert 'value="logout"' in page.text and '<option value="lunch">' in page.text
    before = await state_of_the_acd(acd)
    forged = await agent.post("/desk", data={"action": "logout", "csrf_token": "forged"})
    assert forged.status_code == 403 and "csrf_failed" in forged.text
    bad = await agent.post("/desk", data={"action": "pause", "reason": "nap", "csrf_token": token})
    assert bad.status_code == 422 and "reason_unknown" in bad.text
    assert await state_of_the_acd(acd) == before
    await agent.post("/desk", data={"action": "pause", "reason": "break", "csrf_token": token})
    assert acd.ctl.queues.agent_states()["102"] == "paused:break"
    assert 'value="unpause"' in (await agent.get("/desk")).text


async def test_desk_page_for_a_user_without_an_extension(acd: Box) -> None:
    sup, token = await page_login(acd, "sup")
    assert "not linked to an extension" in (await sup.get("/desk")).text
    r = await sup.post("/desk", data={"action": "login", "csrf_token": token})
    assert r.status_code == 409 and "no_extension" in r.text


async def test_staffing_page(box: Box) -> None:
    sup, _ = await page_login(box, "sup")
    empty = await sup.get("/staffing")
    assert empty.status_code == 200 and "data-plan" not in empty.text
    r = await sup.get("/staffing", params={"calls_per_hour": "200", "aht_s": "180"})
    assert r.status_code == 200 and '<span class="big">14</span>' in r.text
    bad = await sup.get("/staffing", params={"calls_per_hour": "lots", "aht_s": "180"})
    assert bad.status_code == 422 and "calls_per_hour must be a number" in bad.text
    bad = await sup.get("/staffing", params={"calls_per_hour": "200", "aht_s": "180", "target_sl": "2"})
    assert bad.status_code == 422 and "staffing_invalid" in bad.text
    agent, _ = await page_login(box, "agent")
    assert (await agent.get("/staffing")).status_code == 403


async def test_wallboard_supervision_buttons_ring_the_supervisors_own_extension(acd: Box) -> None:
    sup, _ = await page_login(acd, "sup")
    page = (await sup.get("/wallboard")).text
    assert "Live calls" in page and 'data-own-extension=""' in page
    assert "need your user linked to an extension" in page  # the buttons say why they are off
    admin = await acd.login("admin")
    r = await admin.put(f"/api/v1/users/{await user_id(acd, 'sup')}/extension", json={"extension": "103"})
    assert r.status_code == 200
    page = (await sup.get("/wallboard")).text
    assert 'data-own-extension="103"' in page and "ring your extension 103." in page
    he = (await sup.get("/wallboard", params={"lang": "he"})).text
    assert 'dir="rtl"' in he and "שיחות פעילות" in he and "מצלצלות לשלוחה שלך 103" in he
    assert 'data-l-available="זמין"' in he and "<td>מנותק מהתור</td>" in he  # states the script redraws, too
    js = (await sup.get("/static/wallboard.js")).text
    assert '"/api/v1/supervision"' in js and "x-csrf-token" in js
