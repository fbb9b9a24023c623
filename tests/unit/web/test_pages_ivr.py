"""IVR, DID, prompt and mailbox pages: rendered for the right role, refused to the wrong one, and a
form post with bad input shows the reason and writes nothing."""

from __future__ import annotations

import re
from typing import Any

import httpx

from appliance.domain.dialplan import MediaService
from appliance.web_services.ivr_form import config_from_form, form_from_config
from tests.unit.ivr.test_api_ivr import wav_bytes
from tests.unit.web.conftest import QUEUE, Box
from tests.unit.web.test_pages import page_login

HOURS_IVR: dict[str, Any] = {
    "entry": "switch:hours",
    "switches": {"hours": {"hours": {"tz": "Europe/Warsaw", "hours": {"mon-fri": ["09:00-17:00"]},
                                     "holidays": [{"date": "2026-12-25", "name": "Christmas"}]},
                           "open": "menu:main", "closed": "voicemail:101"}},
    "menus": {"main": {"prompt": "say:For support press 1.", "options": {"1": "extension:102", "9": "menu:main"},
                       "timeout_s": 5, "max_retries": 2, "repeat_key": "*", "on_fail": "hangup"},
              "other": {"prompt": "goodbye", "options": {"1": "hangup"}}},
}


async def ivr_tables(box: Box) -> dict[str, list[tuple[Any, ...]]]:
    """What these pages write, to prove a refusal changed nothing."""
    names = ["ivrs", "dids", "mailboxes", "custom_prompts", "audit_log"]
    return {t: await box.rows(f"SELECT * FROM {t} ORDER BY 1") for t in names}


def ivr_form(number: str, csrf: str, **extra: str) -> dict[str, str]:
    """The IVR page's form as a browser posts it: two keys and a holiday."""
    return {"csrf_token": csrf, "new": "1", "number": number, "name": "Front desk", "language": "he",
            "menu_id": "main", "prompt": "say:", "say_text": "Welcome", "timeout_s": "4", "max_retries": "1",
            "repeat_key": "*", "on_fail_kind": "voicemail", "on_fail_target": "101",
            "opt_1_kind": "extension", "opt_1_target": "102", "opt_2_kind": "hangup", "opt_2_target": "",
            "hours_on": "1", "tz": "Asia/Jerusalem", "week_sun": "08:00-16:00", "week_mon": "08:00-12:00, 13:00-16:00",
            "closed_kind": "voicemail", "closed_target": "101", "holiday_kind": "extension", "holiday_target": "103",
            "hol_0_date": "2026-09-21", "hol_0_name": "Yom Kippur", **extra}


def test_a_stored_configuration_survives_the_form_round_trip() -> None:
    f = form_from_config("800", "Main", "en", HOURS_IVR)
    assert f.hours_on and f.tz == "Europe/Warsaw" and f.week["fri"] == "09:00-17:00" and f.week["sat"] == ""
    assert f.options["1"].text() == "extension:102" and f.closed.text() == "voicemail:101"
    config, problems = config_from_form(f, HOURS_IVR)
    assert problems == []
    assert config["menus"]["other"] == HOURS_IVR["menus"]["other"]  # a menu the page does not show is kept
    assert config["switches"]["hours"]["hours"]["holidays"] == [{"date": "2026-12-25", "name": "Christmas"}]
    assert config["switches"]["hours"]["hours"]["hours"]["mon"] == ["09:00-17:00"]
    f.hours_on = False
    config, _ = config_from_form(f, HOURS_IVR)
    assert config["entry"] == "menu:main" and "switches" not in config


def test_a_switch_and_menu_named_otherwise_are_edited_in_place() -> None:
    stored = {"entry": "switch:office", "menus": {"start": {"prompt": "goodbye", "options": {"1": "hangup"}}},
              "switches": {"office": {"hours": {"tz": "UTC", "hours": {"sat": ["10:00-12:00"]}},
                                      "open": "menu:start", "closed": "hangup", "holiday": "extension:101"}}}
    f = form_from_config("800", "M", "en", stored)
    assert (f.switch_id, f.menu_id, f.week["sat"], f.holiday.text()) == ("office", "start", "10:00-12:00",
                                                                        "extension:101")
    f.holiday.kind = ""
    config, problems = config_from_form(f, stored)
    assert problems == [] and config["entry"] == "switch:office" and set(config["switches"]) == {"office"}
    assert "holiday" not in config["switches"]["office"] and set(config["menus"]) == {"start"}


async def test_admin_builds_an_ivr_on_the_page_and_the_api_returns_it(box: Box) -> None:
    admin, csrf = await page_login(box, "admin")
    page = await admin.get("/ivr/new")
    assert page.status_code == 200 and 'name="opt_#_kind"' in page.text and "Asia/Jerusalem" in page.text
    r = await admin.post("/ivr", data=ivr_form("810", csrf))
    assert r.status_code == 303 and r.headers["location"] == "/ivr/810?saved=1", r.text
    got = (await admin.get("/api/v1/ivrs/810")).json()
    assert got["name"] == "Front desk" and got["language"] == "he"
    cfg = got["config"]
    assert cfg["entry"] == "switch:hours"
    assert cfg["menus"]["main"]["options"] == {"1": "extension:102", "2": "hangup"}
    assert cfg["menus"]["main"]["prompt"] == "say:Welcome" and cfg["menus"]["main"]["on_fail"] == "voicemail:101"
    hours = cfg["switches"]["hours"]
    assert hours["closed"] == "voicemail:101" and hours["holiday"] == "extension:103"
    assert hours["hours"] == {"tz": "Asia/Jerusalem", "hours": {"sun": ["08:00-16:00"],
                                                               "mon": ["08:00-12:00", "13:00-16:00"]},
                              "holidays": [{"date": "2026-09-21", "name": "Yom Kippur"}]}
    edit = await admin.get("/ivr/810?saved=1")
    assert "Saved." in edit.text and 'value="Yom Kippur"' in edit.text and 'value="13:00-16:00"' not in edit.text
    assert 'value="08:00-12:00, 13:00-16:00"' in edit.text
    listing = await admin.get("/ivr")
    assert 'data-ivr="810"' in listing.text and "switch:hours" in listing.text
    (action,), = await box.rows("SELECT action FROM audit_log WHERE target = '810'")
    assert action == "ivr.create"
    # edit in place: drop the holiday, key 1 to the queue-less voicemail
    form = ivr_form("810", csrf, hol_0_date="", hol_0_name="", opt_1_kind="voicemail", opt_1_target="102")
    del form["new"]
    assert (await admin.post("/ivr", data=form)).status_code == 303
    cfg = (await admin.get("/api/v1/ivrs/810")).json()["config"]
    assert cfg["switches"]["hours"]["hours"]["holidays"] == []
    assert cfg["menus"]["main"]["options"]["1"] == "voicemail:102"
    assert (await admin.post("/ivr/810/delete", data={"csrf_token": csrf})).status_code == 303
    assert (await admin.get("/api/v1/ivrs/810")).status_code == 404


async def test_a_bad_ivr_form_shows_every_reason_and_writes_nothing(box: Box) -> None:
    admin, csrf = await page_login(box, "admin")
    before = await ivr_tables(box)
    bad = ivr_form("811", csrf, opt_3_kind="queue", opt_3_target="999", week_tue="17:00-09:00x",
                   timeout_s="soon")
    r = await admin.post("/ivr", data=bad)
    assert r.status_code == 422 and "data-problems" in r.text
    assert "timeout must be a number" in r.text
    r = await admin.post("/ivr", data=ivr_form("811", csrf, opt_3_kind="queue", opt_3_target="999",
                                               week_tue="17:00-09:00x"))
    assert r.status_code == 422 and "bad opening window &#39;17:00-09:00x&#39;" in r.text
    r = await admin.post("/ivr", data=ivr_form("811", csrf, opt_3_kind="queue", opt_3_target="999"))
    assert r.status_code == 422 and "unknown queue &#39;999&#39;" in r.text
    # what was typed is still on the page
    assert 'value="Yom Kippur"' in r.text and 'value="Front desk"' in r.text
    r = await admin.post("/ivr", data=ivr_form("101", csrf))
    assert r.status_code == 422 and "already an extension" in r.text
    r = await admin.post("/ivr", data=ivr_form("812", csrf, tz="Mars/Olympus"))
    assert r.status_code == 422 and "Mars/Olympus" in r.text
    assert await ivr_tables(box) == before
    assert "811" not in box.ctl.sessions.directory.services


async def test_ivr_pages_roles(box: Box) -> None:
    admin = await box.login("admin")
    r = await admin.put("/api/v1/ivrs/800", json={"name": "Main", "config": HOURS_IVR})
    assert r.status_code == 200, r.text
    sup, sup_csrf = await page_login(box, "sup")
    page = await sup.get("/ivr/800")
    assert page.status_code == 200 and "fieldset class=\"card\" disabled" in page.text and "Save IVR" not in page.text
    assert "Europe/Warsaw" in page.text and 'value="Christmas"' in page.text
    assert "data-ivr-others" in page.text and "<code>menu:other</code>" in page.text
    assert "New IVR" not in (await sup.get("/ivr")).text
    agent, _ = await page_login(box, "agent")
    before = await ivr_tables(box)
    assert (await sup.get("/ivr/new")).status_code == 403
    for path in ("/ivr", "/ivr/800/delete", "/dids", "/dids/5551000/delete", "/prompts/delete",
                 "/mailboxes/101/pin"):
        r = await sup.post(path, data={**ivr_form("800", sup_csrf), "did": "5551000", "kind": "queue",
                                       "target": "700", "pin": "1234", "name": "x", "language": "en"})
        assert r.status_code == 403 and "role_forbidden" in r.text, path
    for path in ("/ivr", "/ivr/800", "/dids", "/prompts", "/mailboxes"):
        assert (await agent.get(path)).status_code == 403, path
    assert (await box.client().get("/ivr")).headers["location"] == "/login"
    assert await ivr_tables(box) == before


async def test_did_page(box: Box) -> None:
    admin = await box.login("admin")
    assert (await admin.put("/api/v1/ivrs/800", json={"name": "Main", "config": HOURS_IVR})).status_code == 200
    await box.ctl.queues.store.create_queue(QUEUE)
    box.ctl.queues.configure(await box.ctl.queues.store.load())
    box.ctl.sessions.directory = box.ctl.sessions.directory
    c, csrf = await page_login(box, "admin")
    r = await c.post("/dids", data={"csrf_token": csrf, "did": "0221234567", "kind": "queue", "target": "700",
                                    "priority": "5", "note": "VIP line"})
    assert r.status_code == 303, r.text
    assert (await c.get("/api/v1/dids")).json() == [
        {"did": "0221234567", "destination": "queue:700;priority=5", "note": "VIP line"}]
    page = await c.get("/dids")
    assert 'data-did="0221234567"' in page.text and 'value="5"' in page.text
    r = await c.post("/dids/0221234567", data={"csrf_token": csrf, "kind": "ivr", "target": "800", "priority": "",
                                                "note": ""})
    assert r.status_code == 303
    assert (await c.get("/api/v1/dids")).json()[0]["destination"] == "ivr:800"
    before = await ivr_tables(box)
    for data, why in [
        ({"did": "5551000", "kind": "queue", "target": "999"}, "unknown queue"),
        ({"did": "12", "kind": "queue", "target": "700"}, "must be 3-19 digits"),
        ({"did": "5551000", "kind": "ivr", "target": "800", "priority": "5"}, "only a queue takes"),
        ({"did": "0221234567", "kind": "queue", "target": "700"}, "exists already"),
    ]:
        r = await c.post("/dids", data={"csrf_token": csrf, "note": "", "priority": "", **data})
        assert r.status_code in (409, 422) and why in r.text, (why, r.text)
    assert await ivr_tables(box) == before
    sup, _ = await page_login(box, "sup")
    page = await sup.get("/dids")
    assert page.status_code == 200 and "ivr:800" in page.text and "Add DID" not in page.text
    assert (await c.post("/dids/0221234567/delete", data={"csrf_token": csrf})).status_code == 303
    assert (await c.get("/api/v1/dids")).json() == []


async def test_prompts_page_lists_plays_and_deletes(box: Box) -> None:
    sup, _ = await page_login(box, "sup")
    page = await sup.get("/prompts?language=he")
    assert page.status_code == 200 and 'src="/api/v1/prompts/he/goodbye/audio"' in page.text
    assert "data-prompt-upload" not in page.text  # supervisors listen, admins upload
    audio = await sup.get("/api/v1/prompts/he/goodbye/audio")
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    assert (await sup.get("/api/v1/prompts/he/no-such/audio")).status_code == 404
    assert (await sup.get("/api/v1/prompts/xx/goodbye/audio")).status_code == 404
    admin, csrf = await page_login(box, "admin")
    admin.headers["x-csrf-token"] = csrf
    r = await admin.put("/api/v1/prompts?language=en&name=welcome", content=wav_bytes(1))
    assert r.status_code == 201
    page = await admin.get("/prompts?language=en&uploaded=welcome")
    assert "data-prompt-upload" in page.text and 'data-custom-prompt="en/welcome"' in page.text
    assert "Prompt welcome uploaded." in page.text and '<script src="/static/ivr.js"' in page.text
    assert (await admin.get("/api/v1/prompts/en/welcome/audio")).content[:4] == b"RIFF"
    before = await ivr_tables(box)
    r = await admin.post("/prompts/delete", data={"csrf_token": csrf, "name": "nothing", "language": "en"})
    assert r.status_code == 404 and "no uploaded prompt" in r.text
    assert await ivr_tables(box) == before
    r = await admin.post("/prompts/delete", data={"csrf_token": csrf, "name": "welcome", "language": "en"})
    assert r.status_code == 303
    assert (await admin.get("/api/v1/prompts")).json()["custom"] == []
    js = await admin.get("/static/ivr.js")
    assert js.status_code == 200 and "x-csrf-token" in js.text


async def test_mailboxes_page_sets_a_pin_never_shown(box: Box) -> None:
    c, csrf = await page_login(box, "admin")
    page = await c.get("/mailboxes")
    assert page.status_code == 200 and 'data-mailbox="101"' in page.text and "not set" in page.text
    r = await c.post("/mailboxes/101/pin", data={"csrf_token": csrf, "pin": "8642"})
    assert r.status_code == 303 and r.headers["location"] == "/mailboxes?pin_set=101"
    page = await c.get("/mailboxes?pin_set=101")
    assert "New PIN set for mailbox 101." in page.text and "8642" not in page.text
    assert re.search(r'data-mailbox="101">\s*<td>101</td><td>0</td><td>0</td>\s*<td>set</td>', page.text)
    before = await ivr_tables(box)
    r = await c.post("/mailboxes/101/pin", data={"csrf_token": csrf, "pin": "12x"})
    assert r.status_code == 422 and "a PIN is 4-12 digits" in r.text
    assert (await c.post("/mailboxes/999/pin", data={"csrf_token": csrf, "pin": "1234"})).status_code == 404
    assert await ivr_tables(box) == before
    sup, _ = await page_login(box, "sup")
    page = await sup.get("/mailboxes")
    assert page.status_code == 200 and "Set PIN" not in page.text


async def test_pages_in_hebrew_are_right_to_left(box: Box) -> None:
    c: httpx.AsyncClient
    c, _ = await page_login(box, "admin")
    for path in ("/ivr", "/ivr/new", "/dids", "/prompts", "/mailboxes"):
        r = await c.get(path + ("&" if "?" in path else "?") + "lang=he")
        assert r.status_code == 200 and 'dir="rtl"' in r.text, path


async def test_mailbox_messages_are_listed_played_and_deleted_by_admins(box: Box) -> None:
    vm_dir = box.ctl.settings.data_dir / "voicemail" / "102"
    vm_dir.mkdir(parents=True)
    (vm_dir / "m-0.wav").write_bytes(wav_bytes(1.0, 8000, 1))
    store = box.ctl.sessions.flows[MediaService.VOICEMAIL].__self__.store  # type: ignore[attr-defined]
    mid = await store.start_message("102", "0501234567", "call-1", box.clock.now(), "voicemail/102/m-0.wav")
    await store.finish_message(mid, 1.0)
    sup, sup_csrf = await page_login(box, "sup")
    page = await sup.get("/mailboxes")
    assert f'data-message="{mid}" class="new"' in page.text and "0501234567" in page.text
    assert f'src="/api/v1/voicemails/{mid}/audio"' in page.text and "/delete" not in page.text
    assert (await sup.post(f"/voicemails/{mid}/delete", data={"csrf_token": sup_csrf})).status_code == 403
    admin, csrf = await page_login(box, "admin")
    assert (await admin.post("/voicemails/99999/delete", data={"csrf_token": csrf})).status_code == 404
    assert (vm_dir / "m-0.wav").exists()
    assert (await admin.post(f"/voicemails/{mid}/delete", data={"csrf_token": csrf})).status_code == 303
    assert not (vm_dir / "m-0.wav").exists()
    assert 'data-messages="102"' not in (await admin.get("/mailboxes")).text
    (action,), = await box.rows("SELECT action FROM audit_log WHERE action = 'voicemail.delete'")
    assert action == "voicemail.delete"
