"""The HTTPS certificate through the API, and no secret ever written to the audit log."""

from __future__ import annotations

from appliance.web_services.certs import cert_paths, self_signed
from tests.unit.web.conftest import PASSWORDS, Box


async def test_tls_read_and_replace(box: Box) -> None:
    c = await box.login("admin")
    r = await c.get("/api/v1/tls")
    assert r.status_code == 200 and "self-signed" in r.json()["subject"]
    cert_file, key_file = cert_paths(box.ctl.settings.data_dir)
    before = (cert_file.read_bytes(), key_file.read_bytes())
    cert, key = self_signed("pbx.office.test")
    other, _ = self_signed("elsewhere.test")
    bad = await c.put("/api/v1/tls", json={"certificate": other.decode(), "key": key.decode()})
    assert bad.status_code == 422 and bad.json()["error_id"] == "key_mismatch"
    junk = await c.put("/api/v1/tls", json={"certificate": "hello", "key": key.decode()})
    assert junk.status_code == 422 and junk.json()["error_id"] == "certificate_invalid"
    assert (cert_file.read_bytes(), key_file.read_bytes()) == before
    sup = await box.login("sup")
    assert (await sup.put("/api/v1/tls", json={"certificate": cert.decode(), "key": key.decode()})).status_code == 403
    ok = await c.put("/api/v1/tls", json={"certificate": cert.decode(), "key": key.decode()})
    assert ok.status_code == 200 and "CN=pbx.office.test" in ok.json()["subject"]
    assert cert_file.read_bytes() == cert and key_file.read_bytes() == key
    assert (await box.rows("SELECT actor, action FROM audit_log WHERE action = 'tls.install'")) == [
        ("admin", "tls.install")]


async def test_no_secret_reaches_the_audit_log(box: Box) -> None:
    c = await box.login("admin")
    created = (await c.post("/api/v1/extensions", json={"number": "150"})).json()["sip_password"]
    reset = (await c.post("/api/v1/extensions/150/password")).json()["sip_password"]
    token = (await c.post("/api/v1/me/token")).json()["token"]
    (agent_id,), = await box.rows("SELECT id FROM web_users WHERE username = 'agent'")
    await c.patch(f"/api/v1/users/{agent_id}", json={"password": "agent new password"})
    await box.client().post("/api/v1/session", json={"username": "admin", "password": "a wrong guess"})
    text = " ".join(str(r) for r in await box.rows("SELECT * FROM audit_log"))
    for secret in (created, reset, token, "agent new password", "a wrong guess", *PASSWORDS.values()):
        assert secret not in text
    assert "password" in text  # the change itself is recorded ("password": "changed")
