"""The /queues admin page: admins create, edit and delete queues and set agents' skills through forms
(CSRF); supervisors view; a refusal shows its reason and writes nothing."""

from __future__ import annotations

import httpx

from appliance.domain.dialplan import MediaService, ToMedia, route
from tests.unit.web.conftest import Box
from tests.unit.web.test_api_queues import queue_tables
from tests.unit.web.test_pages import csrf_of, page_login

FORM = {
    "number": "710", "name": "Billing", "strategy": "linear", "wrap_up_s": "7", "ring_timeout_s": "15",
    "language": "en", "record": "1", "max_misses": "3", "position_every_s": "30", "periodic_prompt": "",
    "periodic_every_s": "", "default_aht_s": "180", "callback_after_s": "", "callback_max_attempts": "3",
    "callback_retry_s": "300", "max_wait_s": "60", "on_timeout": "queue:700", "max_len": "", "on_full": "hangup",
    "join_empty": "never", "leave_when_empty": "never", "on_empty": "hangup",
    "member": ["103", "102", ""], "penalty": ["1", "0", "0"], "member_skills": ["", "he=9, billing=7", ""],
    "skills": "he", "tier_after": ["0", "5", ""], "tier_level": ["8", "3", ""],
}


async def admin_page(box: Box, path: str = "/queues") -> tuple[httpx.AsyncClient, str]:
    """An admin logged in through the form, and the CSRF token of the page at `path`."""
    c, _ = await page_login(box, "admin")
    r = await c.get(path)
    assert r.status_code == 200, r.text
    return c, csrf_of(r.text)


async def test_admin_lists_queues_supervisor_views_agent_is_denied(acd: Box) -> None:
    admin, _ = await admin_page(acd)
    page = (await admin.get("/queues")).text
    assert "700 · Support queue" in page and 'href="/queues/new"' in page and 'href="/queues/700/edit"' in page
    assert 'action="/queues/700/delete"' in page and "leastrecent" in page
    sup, _ = await page_login(acd, "sup")
    r = await sup.get("/queues")
    assert r.status_code == 200 and "700 · Support queue" in r.text
    assert 'href="/queues/new"' not in r.text and 'action="/queues/700/delete"' not in r.text
    assert (await sup.get("/queues/new")).status_code == 403
    assert (await sup.get("/queues/700/edit")).status_code == 403
    agent, _ = await page_login(acd, "agent")
    assert (await agent.get("/queues")).status_code == 403


async def test_admin_creates_then_edits_a_queue_through_the_forms(acd: Box) -> None:
    admin, csrf = await admin_page(acd, "/queues/new")
    r = await admin.post("/queues", data={**FORM, "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/queues", r.text
    got = (await admin.get("/api/v1/queues/710", headers={"x-csrf-token": csrf})).json()
    assert got["members"] == [{"extension": "103", "penalty": 1, "skills": {}},
                              {"extension": "102", "penalty": 0, "skills": {"billing": 7, "he": 9}}]
    assert got["skills"] == ["he"] and got["tiers"] == [{"after_s": 0, "min_level": 8}, {"after_s": 5, "min_level": 3}]
    assert got["wrap_up_s"] == 7 and got["max_wait_s"] == 60 and got["position_every_s"] == 30
    assert got["max_len"] is None and got["callback_after_s"] is None and got["record"] is True
    assert route("710", "101", acd.ctl.sessions.directory) == ToMedia(MediaService.QUEUE, "710")
    service = acd.ctl.queues
    await service.apply(service.dispatcher.join("710", "c1", "0501"), step=True)

    edit = await admin.get("/queues/710/edit")
    assert edit.status_code == 200 and 'value="he=9, billing=7"' not in edit.text  # sorted: billing first
    assert 'value="billing=7, he=9"' in edit.text and 'value="Billing"' in edit.text
    r = await admin.post("/queues/710", data={**FORM, "name": "Billing and more", "strategy": "leastrecent",
                                              "member": ["102", "101", ""], "member_skills": ["he=10", "", ""],
                                              "csrf_token": csrf_of(edit.text)})
    assert r.status_code == 303, r.text
    got = (await admin.get("/api/v1/queues/710")).json()
    assert got["name"] == "Billing and more" and got["strategy"] == "leastrecent"
    assert [m["extension"] for m in got["members"]] == ["102", "101"]
    assert service.dispatcher.queue("710").members["102"].skills == {"he": 10}
    assert [c.call_id for c in service.dispatcher.queue("710").waiting] == ["c1"]  # kept their place
    page = (await admin.get("/queues")).text
    assert "710 · Billing and more" in page and "<strong>he=10</strong>" in page


async def test_form_refusals_show_the_reason_and_write_nothing(acd: Box) -> None:
    admin, csrf = await admin_page(acd, "/queues/new")
    before = await queue_tables(acd)
    for change, status, reason in (
        ({"tier_after": ["0", "5", ""], "tier_level": ["3", "8", ""]}, 422, "tiers must widen"),
        ({"member": ["103", "999", ""]}, 422, "members must be existing extensions"),
        ({"member_skills": ["he", "", ""]}, 422, "write skills as name=level"),
        ({"member_skills": ["he=11", "", ""]}, 422, "less than or equal to 10"),
        ({"wrap_up_s": "soon"}, 422, "wrap_up_s"),
        ({"number": "101"}, 409, "number_taken"),
        ({"on_timeout": "fax:1"}, 422, "queue_invalid"),
    ):
        r = await admin.post("/queues", data={**FORM, **change, "csrf_token": csrf})
        assert r.status_code == status, (change, r.text)
        assert reason in r.text, (change, r.text)
        assert "Something was refused" in r.text
    r = await admin.post("/queues", data={**FORM, "csrf_token": "forged"})
    assert r.status_code == 403 and "csrf_failed" in r.text
    r = await admin.post("/queues/700", data={**FORM, "on_timeout": "hangup", "member": ["999"], "csrf_token": csrf})
    assert r.status_code == 422 and "members must be existing extensions" in r.text
    r = await admin.post("/agents/102/skills", data={"skills": "he=eleven", "csrf_token": csrf})
    assert r.status_code == 422
    r = await admin.post("/agents/999/skills", data={"skills": "he=1", "csrf_token": csrf})
    assert r.status_code == 404 and "there is no extension 999" in r.text
    assert await queue_tables(acd) == before


async def test_delete_through_the_form_refused_while_busy_then_done(acd: Box) -> None:
    admin, csrf = await admin_page(acd)
    service = acd.ctl.queues
    await service.apply(service.dispatcher.join("700", "c1", "0501"), step=True)
    before = await queue_tables(acd)
    r = await admin.post("/queues/700/delete", data={"csrf_token": csrf})
    assert r.status_code == 409 and "queue_busy" in r.text and "wait until it is idle" in r.text
    assert await queue_tables(acd) == before
    await service.apply(service.dispatcher.abandon("c1"), step=True)
    r = await admin.post("/queues/700/delete", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert "700 · Support queue" not in (await admin.get("/queues")).text
    assert await acd.rows("SELECT number FROM queues") == []


async def test_agent_skills_form_and_roles(acd: Box) -> None:
    admin, csrf = await admin_page(acd)
    r = await admin.post("/agents/102/skills", data={"skills": "he=9, billing=7", "csrf_token": csrf})
    assert r.status_code == 303, r.text
    assert acd.ctl.queues.dispatcher.queue("700").members["102"].skills == {"he": 9, "billing": 7}
    page = (await admin.get("/queues")).text
    assert 'value="billing=7, he=9"' in page
    sup, sup_csrf = await page_login(acd, "sup")
    before = await queue_tables(acd)
    for path, data in (("/agents/102/skills", {"skills": "he=1"}), ("/queues", FORM), ("/queues/700", FORM),
                       ("/queues/700/delete", {})):
        assert (await sup.post(path, data={**data, "csrf_token": sup_csrf})).status_code == 403, path
    assert await queue_tables(acd) == before
    assert "billing=7 he=9" in (await sup.get("/queues")).text  # read-only view


async def test_queues_page_in_hebrew_is_right_to_left(acd: Box) -> None:
    admin, _ = await admin_page(acd)
    admin.cookies.set("lang", "he")
    for path in ("/queues", "/queues/new", "/queues/700/edit"):
        r = await admin.get(path)
        assert r.status_code == 200 and 'dir="rtl"' in r.text, path
    assert "תורים" in (await admin.get("/queues")).text
