"""Users and roles through /api/v1 (admins only); the last admin is kept."""

from __future__ import annotations

import pytest

from tests.unit.web.conftest import Box


async def user_id(box: Box, name: str) -> int:
    (uid,), = await box.rows("SELECT id FROM web_users WHERE username = ?", (name,))
    return int(uid)


async def test_user_lifecycle(box: Box) -> None:
    c = await box.login("admin")
    r = await c.post("/api/v1/users", json={"username": "dana", "password": "dana password", "role": "agent"})
    assert r.status_code == 201
    dana = r.json()
    assert dana == {"id": dana["id"], "username": "dana", "role": "agent", "enabled": True, "has_token": False}
    assert "password" not in str((await c.get("/api/v1/users")).json())
    assert (await box.login("dana", "dana password")).headers["x-csrf-token"]
    r = await c.patch(f"/api/v1/users/{dana['id']}", json={"role": "supervisor", "password": "dana new password"})
    assert r.json()["role"] == "supervisor"
    assert (await box.client().post("/api/v1/session", json={"username": "dana", "password": "dana password"})
            ).status_code == 401
    new = await box.login("dana", "dana new password")
    assert (await new.get("/api/v1/extensions")).status_code == 200  # supervisor now
    r = await c.post(f"/api/v1/users/{dana['id']}/token")
    assert r.status_code == 201 and r.json()["token"].startswith("apt_")
    assert (await c.get(f"/api/v1/users/{dana['id']}")).json()["has_token"] is True
    assert (await c.delete(f"/api/v1/users/{dana['id']}")).status_code == 204
    assert (await new.get("/api/v1/me")).status_code == 401
    actions = [r[0] for r in await box.rows("SELECT action FROM audit_log WHERE target = 'dana' ORDER BY id")]
    assert actions == ["user.create", "user.update", "user.token", "user.delete"]


@pytest.mark.parametrize(("body", "status", "error_id"), [
    ({"username": "x y", "password": "long password", "role": "agent"}, 422, "username_invalid"),
    ({"username": "eve", "password": "short", "role": "agent"}, 422, "password_too_short"),
    ({"username": "eve", "password": "long password", "role": "root"}, 422, "role_invalid"),
    ({"username": "SUP", "password": "long password", "role": "agent"}, 409, "username_taken"),
    ({"username": "eve", "password": "long password"}, 422, "validation_failed"),
])
async def test_bad_user_input_is_refused_and_changes_nothing(
        box: Box, body: dict[str, object], status: int, error_id: str) -> None:
    c = await box.login("admin")
    before = await box.snapshot()
    r = await c.post("/api/v1/users", json=body)
    assert (r.status_code, r.json()["error_id"]) == (status, error_id), r.text
    assert await box.snapshot() == before


async def test_the_last_admin_stays(box: Box) -> None:
    c = await box.login("admin")
    admin = await user_id(box, "admin")
    before = await box.snapshot()
    for body in ({"role": "agent"}, {"enabled": False}):
        r = await c.patch(f"/api/v1/users/{admin}", json=body)
        assert r.status_code == 409 and r.json()["error_id"] == "last_admin"
    assert (await c.delete(f"/api/v1/users/{admin}")).json()["error_id"] == "last_admin"
    assert await box.snapshot() == before
    # with a second admin, the first may step down
    await c.patch(f"/api/v1/users/{await user_id(box, 'sup')}", json={"role": "admin"})
    assert (await c.patch(f"/api/v1/users/{admin}", json={"role": "agent"})).status_code == 200


async def test_only_admins_manage_users(box: Box) -> None:
    sup, agent = await box.login("sup"), await box.login("agent")
    target = await user_id(box, "agent")
    before = await box.snapshot()
    for who in (sup, agent):
        for method, url, body in (("GET", "/api/v1/users", None), (
                "POST", "/api/v1/users", {"username": "x1", "password": "long password", "role": "admin"}),
                ("GET", f"/api/v1/users/{target}", None),
                ("PATCH", f"/api/v1/users/{target}", {"role": "admin"}),
                ("DELETE", f"/api/v1/users/{target}", None), ("POST", f"/api/v1/users/{target}/token", None)):
            r = await who.request(method, url, json=body)
            assert r.status_code == 403 and r.json()["error_id"] == "role_forbidden", (method, url)
    assert await box.snapshot() == before
    assert (await (await box.login("admin")).get("/api/v1/users/99999")).status_code == 404
