"""Server-rendered pages: setup, login, forms with CSRF, roles, one-time secrets, assets, RTL."""

from __future__ import annotations

import re

import httpx

from appliance.storage.directory import ha1
from appliance.web_services.certs import self_signed
from tests.unit.web.conftest import ADMIN_PASSWORD, PASSWORDS, Box

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "page has no CSRF field"
    return m.group(1)


async def page_login(box: Box, username: str) -> tuple[httpx.AsyncClient, str]:
    """Log in through the login form; returns the client and the CSRF token its pages carry."""
    c = box.client()
    form = await c.get("/login")
    r = await c.post("/login", data={"username": username, "password": PASSWORDS[username],
                                     "csrf_token": csrf_of(form.text)})
    assert r.status_code == 303 and r.headers["location"] == "/status"
    status = await c.get("/status")
    return c, csrf_of(status.text)


async def test_first_visit_setup_through_the_form(fresh: Box) -> None:
    c = fresh.client()
    r = await c.get("/", follow_redirects=True)
    assert r.url.path == "/setup" and "no default password" in r.text
    token = csrf_of(r.text)
    # a post without the form's token is refused and writes nothing
    bad = await c.post("/setup", data={"username": "admin", "password": ADMIN_PASSWORD,
                                       "password_again": ADMIN_PASSWORD, "csrf_token": "forged"})
    assert bad.status_code == 403 and "csrf_failed" in bad.text
    differ = await c.post("/setup", data={"username": "admin", "password": ADMIN_PASSWORD,
                                          "password_again": "something else", "csrf_token": token})
    assert differ.status_code == 422 and "passwords_differ" in differ.text
    assert await fresh.rows("SELECT * FROM web_users") == []
    ok = await c.post("/setup", data={"username": "admin", "password": ADMIN_PASSWORD,
                                      "password_again": ADMIN_PASSWORD, "csrf_token": token})
    assert ok.status_code == 303 and ok.headers["location"] == "/extensions"
    page = await c.get("/extensions")
    assert page.status_code == 200 and "Create extension" in page.text
    assert (await fresh.client().get("/setup")).headers["location"] == "/login"


async def test_login_form_wrong_password_and_redirects(box: Box) -> None:
    c = box.client()
    assert (await c.get("/extensions")).headers["location"] == "/login"
    form = await c.get("/login")
    r = await c.post("/login", data={"username": "admin", "password": "wrong one!", "csrf_token": csrf_of(form.text)})
    assert r.status_code == 401 and "Wrong username or password." in r.text
    r = await c.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 403  # the login form has its CSRF token too
    c2, token = await page_login(box, "admin")
    r = await c2.post("/logout", data={"csrf_token": token})
    assert r.headers["location"] == "/login"
    assert (await c2.get("/status")).headers["location"] == "/login"


async def test_extension_forms(box: Box) -> None:
    c, token = await page_login(box, "admin")
    before = await box.snapshot()
    r = await c.post("/extensions", data={"number": "150", "display_name": "Lobby"})
    assert r.status_code == 403
    assert await box.snapshot() == before
    r = await c.post("/extensions", data={"number": "150", "display_name": "Lobby", "csrf_token": token})
    assert r.status_code == 201 and "shown this once" in r.text
    password = re.search(r'id="secret">([^<]+)<', r.text)
    assert password
    (stored,), = await box.rows("SELECT ha1 FROM extensions WHERE number = '150'")
    assert stored == ha1("150", box.ctl.settings.realm, password.group(1))
    assert password.group(1) not in (await c.get("/extensions")).text
    r = await c.post("/extensions/150", data={"display_name": "Lobby 2", "csrf_token": token})
    assert r.status_code == 303
    assert await box.rows("SELECT display_name, enabled FROM extensions WHERE number = '150'") == [("Lobby 2", 0)]
    r = await c.post("/extensions/150/password", data={"csrf_token": token})
    assert r.status_code == 200 and 'id="secret"' in r.text
    bad = await c.post("/extensions", data={"number": "*43", "csrf_token": token})
    assert bad.status_code == 422 and "number_reserved" in bad.text and "feature code" in bad.text
    assert (await c.post("/extensions/150/delete", data={"csrf_token": token})).status_code == 303
    assert await box.rows("SELECT * FROM extensions WHERE number = '150'") == []


async def test_ring_group_and_user_forms(box: Box) -> None:
    c, token = await page_login(box, "admin")
    r = await c.post("/ring-groups", data={"number": "700", "name": "Sales", "members": "103, 101",
                                           "ring_seconds": "20", "record": "1", "csrf_token": token})
    assert r.status_code == 303
    assert box.ctl.sessions.directory.ring_groups["700"].members == ("103", "101")
    r = await c.post("/ring-groups/700", data={"name": "Sales", "members": "101 102 103", "ring_seconds": "abc",
                                               "csrf_token": token})
    assert r.status_code == 422 and "field_not_integer" in r.text
    assert box.ctl.sessions.directory.ring_groups["700"].members == ("103", "101")
    page = (await c.get("/ring-groups")).text
    assert 'value="103, 101"' in page
    r = await c.post("/users", data={"username": "omar", "password": "omar password", "role": "agent",
                                     "csrf_token": token})
    assert r.status_code == 303 and "omar" in (await c.get("/users")).text


async def test_pages_enforce_roles(box: Box) -> None:
    agent, _ = await page_login(box, "agent")
    for path in ("/extensions", "/ring-groups", "/cdrs", "/recordings", "/alarms", "/users", "/audit",
                 "/settings/tls"):
        r = await agent.get(path)
        assert r.status_code == 403 and "role_forbidden" in r.text, path
    assert (await agent.get("/status")).status_code == 200
    sup, sup_token = await page_login(box, "sup")
    page = await sup.get("/extensions")
    assert page.status_code == 200 and "Create extension" not in page.text and "Ext 101" in page.text
    before = await box.snapshot()
    assert (await sup.post("/extensions", data={"number": "150", "csrf_token": sup_token})).status_code == 403
    assert (await sup.post("/extensions/101/delete", data={"csrf_token": sup_token})).status_code == 403
    assert (await sup.get("/users")).status_code == 403
    assert await box.snapshot() == before
    nav = re.findall(r'<nav.*?</nav>', page.text, re.S)[0]
    assert "/users" not in nav and "/recordings" in nav


async def test_every_page_is_self_contained_and_phone_ready(box: Box) -> None:
    c, _ = await page_login(box, "admin")
    for path in ("/status", "/extensions", "/ring-groups", "/cdrs", "/recordings", "/alarms", "/users", "/audit",
                 "/settings/tls"):
        r = await c.get(path)
        assert r.status_code == 200, path
        assert 'name="viewport" content="width=device-width' in r.text
        # every asset is served by the box itself: no absolute URL in any src or href
        assert not re.findall(r'(?:src|href)="(?:https?:)?//', r.text), path
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "<script>" not in r.text and " style=" not in r.text  # nothing inline for the CSP to refuse
    for asset in ("/static/app.css", "/static/app.js"):
        assert (await c.get(asset)).status_code == 200
    css = (await c.get("/static/app.css")).text
    assert "@media (max-width" in css and "margin-inline-start" in css


async def test_right_to_left_languages(box: Box) -> None:
    c, _ = await page_login(box, "admin")
    he = await c.get("/status", params={"lang": "he"})
    assert '<html lang="he" dir="rtl">' in he.text and "מצב המערכת" in he.text
    r = await c.get("/lang", params={"lang": "ar", "back": "/extensions"})
    assert r.headers["location"] == "/extensions"
    ar = await c.get("/extensions")
    assert '<html lang="ar" dir="rtl">' in ar.text and "التحويلات" in ar.text
    en = await c.get("/status", params={"lang": "en"})
    assert '<html lang="en" dir="ltr">' in en.text
    assert (await c.get("/lang", params={"lang": "he", "back": "//evil.example"})).headers["location"] == "/"
    browser = box.client()
    r = await browser.get("/login", headers={"accept-language": "he-IL,he;q=0.9,en;q=0.5"})
    assert 'dir="rtl"' in r.text


async def test_recordings_and_cdrs_pages(box: Box) -> None:
    from tests.unit.web.test_api_reports import seed_calls, seed_recording

    store = await seed_calls(box)
    rid = await seed_recording(box, store)
    c, _ = await page_login(box, "sup")
    page = (await c.get("/recordings")).text
    assert f'<audio controls preload="none" src="/api/v1/recordings/{rid}/audio">' in page
    assert f'href="/api/v1/recordings/{rid}/download"' in page
    # listing does not count as access; only playback/download do
    assert await box.rows("SELECT * FROM audit_log WHERE action LIKE 'recording.%'") == []
    cdrs = (await c.get("/cdrs", params={"number": "102"})).text
    assert 'href="/api/v1/cdrs.csv?number=102"' in cdrs and "555" in cdrs and "600" not in cdrs


async def test_certificate_upload_form(box: Box) -> None:
    c, token = await page_login(box, "admin")
    page = await c.get("/settings/tls")
    assert "self-signed" in page.text
    cert, key = self_signed("pbx.office.test")
    other_cert, _ = self_signed("other.test")
    bad = await c.post("/settings/tls", data={"certificate": other_cert.decode(), "key": key.decode(),
                                              "csrf_token": token})
    assert bad.status_code == 422 and "key_mismatch" in bad.text
    ok = await c.post("/settings/tls", data={"certificate": cert.decode(), "key": key.decode(), "csrf_token": token})
    assert ok.status_code == 303
    assert "pbx.office.test" in (await c.get("/settings/tls")).text
    assert [r[0] for r in await box.rows("SELECT action FROM audit_log WHERE action = 'tls.install'")] == [
        "tls.install"]
