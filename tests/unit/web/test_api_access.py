"""Access: first-run setup, login, lockout, sessions, CSRF, bearer tokens, audit of logins."""

from __future__ import annotations

from tests.unit.web.conftest import ADMIN_PASSWORD, Box


async def test_first_visit_sets_the_admin_password_once(fresh: Box) -> None:
    c = fresh.client()
    assert (await c.get("/")).headers["location"] == "/setup"
    # no default password: nothing logs in before setup
    r = await c.post("/api/v1/session", json={"username": "admin", "password": "admin"})
    assert r.status_code == 401 and r.json()["error_id"] == "login_failed"
    weak = await c.post("/api/v1/setup", json={"username": "admin", "password": "short"})
    assert weak.status_code == 422 and weak.json()["error_id"] == "password_too_short"
    assert await fresh.rows("SELECT * FROM web_users") == []
    r = await c.post("/api/v1/setup", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 201 and r.json()["role"] == "admin"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    (stored,), = await fresh.rows("SELECT password_hash FROM web_users")
    assert stored.startswith("$argon2id$") and ADMIN_PASSWORD not in stored
    # a second setup is refused and changes nothing
    other = fresh.client()
    again = await other.post("/api/v1/setup", json={"username": "mallory", "password": "mallory password"})
    assert again.status_code == 409 and again.json()["error_id"] == "setup_done"
    assert [r[0] for r in await fresh.rows("SELECT username FROM web_users")] == ["admin"]
    assert (await other.get("/setup")).headers["location"] == "/login"


async def test_login_logout_and_me(box: Box) -> None:
    c = await box.login("sup")
    me = (await c.get("/api/v1/me")).json()
    assert me["username"] == "sup" and me["role"] == "supervisor" and me["via"] == "session"
    assert (await c.delete("/api/v1/session")).status_code == 204
    r = await c.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["error_id"] == "not_logged_in"
    actions = [r[0] for r in await box.rows("SELECT action FROM audit_log WHERE actor = 'sup' ORDER BY id")]
    assert actions == ["login.ok", "logout"]


async def test_lockout_after_failed_logins_then_time_unlocks(box: Box) -> None:
    c = box.client()
    for _ in range(4):
        r = await c.post("/api/v1/session", json={"username": "agent", "password": "wrong password"})
        assert r.status_code == 401
    r = await c.post("/api/v1/session", json={"username": "agent", "password": "wrong password"})
    assert r.status_code == 401  # the fifth failure locks
    r = await c.post("/api/v1/session", json={"username": "agent", "password": "agent password 1"})
    assert r.status_code == 429 and r.json()["error_id"] == "login_locked"
    assert int(r.headers["retry-after"]) == 900
    # another user from another address is not affected
    assert (await box.login("sup", host="192.0.2.99")).headers["x-csrf-token"]
    box.clock.advance(901)
    assert (await box.login("agent")).headers["x-csrf-token"]
    counts = dict(await box.rows("SELECT action, count(*) FROM audit_log WHERE actor = 'agent' GROUP BY action"))
    assert counts == {"login.failed": 5, "login.locked": 1, "login.ok": 1}


async def test_password_spray_from_one_address_is_locked_per_address(box: Box) -> None:
    c = box.client("198.51.100.7")
    for i in range(20):
        await c.post("/api/v1/session", json={"username": f"guess{i}", "password": "wrong password"})
    r = await c.post("/api/v1/session", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 429


async def test_sessions_expire(box: Box) -> None:
    c = await box.login("agent")
    assert (await c.get("/api/v1/me")).status_code == 200
    box.clock.advance(12 * 3600 + 1)
    assert (await c.get("/api/v1/me")).status_code == 401


async def test_state_changes_need_the_csrf_token(box: Box) -> None:
    c = await box.login("admin")
    token = c.headers.pop("x-csrf-token")
    before = await box.snapshot()
    r = await c.post("/api/v1/extensions", json={"number": "150"})
    assert r.status_code == 403 and r.json()["error_id"] == "csrf_failed"
    r = await c.post("/api/v1/extensions", json={"number": "150"}, headers={"x-csrf-token": token[:-1] + "x"})
    assert r.status_code == 403
    assert await box.snapshot() == before
    r = await c.post("/api/v1/extensions", json={"number": "150"}, headers={"x-csrf-token": token})
    assert r.status_code == 201


async def test_bearer_token_for_api_clients(box: Box) -> None:
    c = await box.login("sup")
    token = (await c.post("/api/v1/me/token")).json()["token"]
    api = box.client("203.0.113.5")
    api.headers["authorization"] = f"Bearer {token}"
    assert (await api.get("/api/v1/me")).json()["via"] == "bearer"
    assert (await api.get("/api/v1/extensions")).status_code == 200
    # a bearer token needs no CSRF, but carries its user's role
    r = await api.post("/api/v1/extensions", json={"number": "150"})
    assert r.status_code == 403 and r.json()["error_id"] == "role_forbidden"
    # a new token replaces the old one
    await c.post("/api/v1/me/token")
    assert (await api.get("/api/v1/me")).status_code == 401
    api.headers["authorization"] = "Bearer apt_not-a-token"
    assert (await api.get("/api/v1/me")).json()["error_id"] == "token_invalid"


async def test_disabling_a_user_ends_their_session(box: Box) -> None:
    agent = await box.login("agent")
    admin = await box.login("admin")
    (agent_id,), = await box.rows("SELECT id FROM web_users WHERE username = 'agent'")
    assert (await admin.patch(f"/api/v1/users/{agent_id}", json={"enabled": False})).status_code == 200
    assert (await agent.get("/api/v1/me")).status_code == 401
    r = await box.client().post("/api/v1/session", json={"username": "agent", "password": "agent password 1"})
    assert r.status_code == 401


async def test_status_is_open_to_loopback_health_checks_only(box: Box) -> None:
    local = box.client("127.0.0.1")
    r = await local.get("/api/v1/status")
    assert r.status_code == 200 and r.json()["workers"] == [] and r.json()["sessions"] == 0
    assert (await box.client("192.0.2.50").get("/api/v1/status")).status_code == 401
    agent = await box.login("agent")
    assert (await agent.get("/api/v1/status")).status_code == 200
    assert (await box.client("127.0.0.1").get("/healthz")).json() == {"status": "ok"}
