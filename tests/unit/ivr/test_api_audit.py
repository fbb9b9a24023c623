"""Every IVR, DID, prompt and mailbox change through the API leaves an audit row; refusals leave none."""

from __future__ import annotations

import json

from tests.unit.ivr.test_api_ivr import MENU, wav_bytes
from tests.unit.web.conftest import Box


async def audit_rows(box: Box) -> list[tuple[str, str, str, dict[str, object]]]:
    """(actor, action, target, detail) of every audit row about these areas, oldest first."""
    rows = await box.rows("SELECT actor, action, target, detail FROM audit_log WHERE action LIKE 'ivr.%'"
                          " OR action LIKE 'did.%' OR action LIKE 'prompt.%' OR action LIKE 'mailbox.%'"
                          " OR action LIKE 'voicemail.%' ORDER BY id")
    return [(a, b, c, json.loads(d)) for a, b, c, d in rows]


async def test_each_change_is_audited_with_what_changed(box: Box) -> None:
    admin = await box.login("admin")
    assert (await admin.put("/api/v1/ivrs/800", json={"name": "Main", "config": MENU})).status_code == 200
    assert (await admin.put("/api/v1/ivrs/800", json={"name": "Main 2", "config": MENU})).status_code == 200
    assert (await admin.put("/api/v1/dids/0221234567", json={"destination": "ivr:800"})).status_code == 200
    assert (await admin.put("/api/v1/dids/0221234567", json={"destination": "extension:101",
                                                             "note": "lobby"})).status_code == 200
    assert (await admin.delete("/api/v1/dids/0221234567")).status_code == 204
    assert (await admin.delete("/api/v1/ivrs/800")).status_code == 204
    assert (await admin.put("/api/v1/prompts?language=en&name=welcome", content=wav_bytes(1))).status_code == 201
    assert (await admin.delete("/api/v1/prompts?language=en&name=welcome")).status_code == 204
    assert (await admin.put("/api/v1/mailboxes/101/pin", json={"pin": "975310"})).status_code == 204
    got = await audit_rows(box)
    assert [(a, b, c) for a, b, c, _ in got] == [
        ("admin", "ivr.create", "800"), ("admin", "ivr.update", "800"),
        ("admin", "did.create", "0221234567"), ("admin", "did.update", "0221234567"),
        ("admin", "did.delete", "0221234567"), ("admin", "ivr.delete", "800"),
        ("admin", "prompt.upload", "en/welcome"), ("admin", "prompt.delete", "en/welcome"),
        ("admin", "mailbox.pin_reset", "101"),
    ]
    assert got[1][3]["name"] == "Main 2" and got[1][3]["config"] == MENU
    assert got[3][3] == {"destination": "extension:101", "note": "lobby"}
    assert isinstance(got[6][3]["size_bytes"], int) and got[6][3]["size_bytes"] > 0
    everything = json.dumps(await box.rows("SELECT * FROM audit_log"))
    assert "975310" not in everything  # the PIN is never recorded


async def test_refusals_and_role_denials_leave_no_audit_row(box: Box) -> None:
    admin = await box.login("admin")
    before = await box.rows("SELECT * FROM audit_log")
    bad = {"entry": "menu:nope"}
    assert (await admin.put("/api/v1/ivrs/800", json={"name": "X", "config": bad})).status_code == 422
    assert (await admin.put("/api/v1/dids/5551000", json={"destination": "queue:999"})).status_code == 422
    assert (await admin.delete("/api/v1/ivrs/899")).status_code == 404
    assert (await admin.delete("/api/v1/dids/5551999")).status_code == 404
    assert (await admin.put("/api/v1/prompts?language=en&name=x", content=b"junk")).status_code == 422
    assert (await admin.put("/api/v1/mailboxes/101/pin", json={"pin": "12"})).status_code == 422
    sup = await box.login("sup")
    assert (await sup.put("/api/v1/ivrs/800", json={"name": "X", "config": MENU})).status_code == 403
    after = [r for r in await box.rows("SELECT * FROM audit_log") if r not in before]
    assert [r[3] for r in after] == ["login.ok"]  # the supervisor's login, nothing else
