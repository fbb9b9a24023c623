"""IVRs, DIDs, mailboxes and prompts through /api/v1: success, role denial, bad input changes nothing."""

from __future__ import annotations

import io
import wave
from typing import Any

from appliance.domain.dialplan import MediaService, route
from tests.unit.web.conftest import Box

MENU = {
    "entry": "menu:main",
    "menus": {"main": {"prompt": "say:Press 1 for support", "options": {"1": "extension:102", "2": "voicemail:101"}}},
}


async def tables(box: Box) -> dict[str, list[tuple[Any, ...]]]:
    """Every table these APIs write."""
    names = ["ivrs", "dids", "mailboxes", "voicemails", "custom_prompts"]
    return {t: await box.rows(f"SELECT * FROM {t} ORDER BY 1") for t in names}


def wav_bytes(seconds: float, rate: int = 44100, channels: int = 2) -> bytes:
    """A WAV of silence in a format the box must convert."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * channels * int(rate * seconds))
    return out.getvalue()


async def test_ivr_and_did_lifecycle_route_at_once(box: Box) -> None:
    admin = await box.login("admin")
    r = await admin.put("/api/v1/ivrs/800", json={"name": "Main", "language": "pl", "config": MENU})
    assert r.status_code == 200, r.text
    assert route("800", "101", box.ctl.sessions.directory).service is MediaService.IVR  # type: ignore[union-attr]
    r = await admin.put("/api/v1/dids/0221234567", json={"destination": "ivr:800"})
    assert r.status_code == 200, r.text
    assert route("0221234567", "", box.ctl.sessions.directory).target == "0221234567"  # type: ignore[union-attr]
    sup = await box.login("sup")
    assert [i["number"] for i in (await sup.get("/api/v1/ivrs")).json()] == ["800"]
    assert (await sup.get("/api/v1/ivrs/800")).json()["language"] == "pl"
    assert (await sup.get("/api/v1/dids")).json() == [{"did": "0221234567", "destination": "ivr:800", "note": ""}]
    r = await admin.delete("/api/v1/ivrs/800")
    assert r.status_code == 409 and r.json()["error_id"] == "ivr_in_use"
    assert (await admin.delete("/api/v1/dids/0221234567")).status_code == 204
    assert (await admin.delete("/api/v1/ivrs/800")).status_code == 204
    assert route("800", "101", box.ctl.sessions.directory).code == 404  # type: ignore[union-attr]
    assert (await admin.put("/api/v1/dids/8100", json={"destination": "extension:102"})).status_code == 200
    r = await admin.put("/api/v1/ivrs/8100", json={"name": "Clash", "config": MENU})
    assert r.status_code == 422 and "already a DID" in r.text  # one number, one destination
    assert (await admin.get("/api/v1/ivrs/8100")).status_code == 404
    assert (await admin.get("/api/v1/ivrs/800")).status_code == 404


async def test_bad_ivr_lists_every_problem_and_writes_nothing(box: Box) -> None:
    admin = await box.login("admin")
    before = await tables(box)
    bad = {"entry": "menu:main", "menus": {"main": {"prompt": "no-such-prompt",
                                                    "options": {"1": "queue:999", "12": "extension:102"}}}}
    r = await admin.put("/api/v1/ivrs/800", json={"name": "Main", "config": bad})
    assert r.status_code == 422 and r.json()["error_id"] == "ivr_invalid"
    problems = " | ".join(r.json()["details"]["problems"])
    assert "unknown queue '999'" in problems and "'12'" in problems
    r = await admin.put("/api/v1/ivrs/101", json={"name": "Clash", "config": MENU})
    assert r.status_code == 422 and "already an extension" in r.text
    r = await admin.put("/api/v1/dids/12", json={"destination": "queue:999"})
    assert r.status_code == 422 and r.json()["error_id"] == "did_invalid"
    r = await admin.put("/api/v1/dids/5551000", json={"destination": "fax:1"})
    assert r.status_code == 422
    assert await tables(box) == before
    assert "800" not in box.ctl.sessions.directory.services


async def test_roles(box: Box) -> None:
    before = await tables(box)
    for user in ("sup", "agent"):
        c = await box.login(user)
        r = await c.put("/api/v1/ivrs/800", json={"name": "Main", "config": MENU})
        assert r.status_code == 403 and r.json()["error_id"] == "role_forbidden"
        assert (await c.put("/api/v1/mailboxes/101/pin", json={"pin": "1234"})).status_code == 403
        assert (await c.put("/api/v1/prompts?language=en&name=hello", content=wav_bytes(1))).status_code == 403
    agent = await box.login("agent")
    assert (await agent.get("/api/v1/ivrs")).status_code == 403
    anonymous = box.client()
    assert (await anonymous.get("/api/v1/dids")).status_code == 401
    assert await tables(box) == before


async def test_mailbox_pin_is_hashed_and_validated(box: Box) -> None:
    admin = await box.login("admin")
    assert (await admin.put("/api/v1/mailboxes/101/pin", json={"pin": "2580"})).status_code == 204
    (stored,), = await box.rows("SELECT pin_hash FROM mailboxes WHERE mailbox = '101'")
    assert stored.startswith("$argon2") and "2580" not in stored
    before = await tables(box)
    r = await admin.put("/api/v1/mailboxes/101/pin", json={"pin": "12a"})
    assert r.status_code == 422 and r.json()["error_id"] == "pin_invalid"
    assert (await admin.put("/api/v1/mailboxes/999/pin", json={"pin": "1234"})).status_code == 404
    assert await tables(box) == before
    r = await admin.get("/api/v1/mailboxes/101")
    assert r.json() == {"mailbox": "101", "new": 0, "old": 0, "has_pin": True, "language": "en", "messages": []}


async def test_voicemail_listed_played_and_deleted(box: Box) -> None:
    vm_dir = box.ctl.settings.data_dir / "voicemail" / "102"
    vm_dir.mkdir(parents=True)
    (vm_dir / "m-0.wav").write_bytes(wav_bytes(1.0, 8000, 1))
    store = box.ctl.sessions.flows[MediaService.VOICEMAIL].__self__.store  # type: ignore[attr-defined]
    mid = await store.start_message("102", "101", "call-1", box.clock.now(), "voicemail/102/m-0.wav")
    await store.finish_message(mid, 1.0)
    sup = await box.login("sup")
    body = (await sup.get("/api/v1/mailboxes/102")).json()
    assert body["new"] == 1 and body["messages"][0]["caller"] == "101"
    r = await sup.get(f"/api/v1/voicemails/{mid}/audio")
    assert r.status_code == 200 and r.content[:4] == b"RIFF"
    assert (await sup.delete(f"/api/v1/voicemails/{mid}")).status_code == 403
    admin = await box.login("admin")
    assert (await admin.delete(f"/api/v1/voicemails/{mid}")).status_code == 204
    assert not (vm_dir / "m-0.wav").exists()
    assert (await admin.delete(f"/api/v1/voicemails/{mid}")).status_code == 404


async def test_prompt_upload_is_converted_and_bad_files_change_nothing(box: Box) -> None:
    admin = await box.login("admin")
    r = await admin.put("/api/v1/prompts?language=he&name=welcome-main", content=wav_bytes(1.5))
    assert r.status_code == 201, r.text
    assert r.json()["language"] == "he" and 1.4 <= r.json()["duration_s"] <= 1.6
    path = box.ctl.settings.data_dir / "prompts" / "custom" / "he" / "welcome-main.wav"
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    before = await tables(box)
    original = path.read_bytes()
    for url, data, why in [
        ("/api/v1/prompts?language=he&name=welcome-main", b"not audio at all", "not a WAV"),
        ("/api/v1/prompts?language=he&name=welcome-main", b"RIFF\x10\0\0\0WAVEjunkjunk", "cannot be read"),
        ("/api/v1/prompts?language=he&name=welcome-main", wav_bytes(0.05), "must last"),
        ("/api/v1/prompts?language=he&name=Bad_Name", wav_bytes(1), "bad prompt name"),
        ("/api/v1/prompts?language=xx&name=welcome-main", wav_bytes(1), "unsupported language"),
        ("/api/v1/prompts?language=en&name=goodbye", wav_bytes(1), "built-in"),
        ("/api/v1/prompts?language=he&name=welcome-main", b"", "empty"),
    ]:
        r = await admin.put(url, content=data)
        assert r.status_code == 422 and r.json()["error_id"] == "prompt_invalid", (why, r.text)
        assert why in r.json()["message"], (why, r.json()["message"])
    assert await tables(box) == before and path.read_bytes() == original
    assert sorted(p.name for p in path.parent.iterdir()) == ["welcome-main.wav"]  # no temporary files left
    listed = (await admin.get("/api/v1/prompts")).json()
    assert listed["languages"] == ["en", "he", "ar", "pl", "zh"] and "vm-greeting" in listed["builtin"]["zh"]
    assert [p["name"] for p in listed["custom"]] == ["welcome-main"]
    menu = {"entry": "menu:m", "menus": {"m": {"prompt": "welcome-main", "options": {"1": "extension:102"}}}}
    r = await admin.put("/api/v1/ivrs/800", json={"name": "M", "language": "he", "config": menu})
    assert r.status_code == 200
    r = await admin.delete("/api/v1/prompts?language=he&name=welcome-main")
    assert r.status_code == 409 and r.json()["error_id"] == "prompt_in_use"
    assert (await admin.delete("/api/v1/ivrs/800")).status_code == 204
    assert (await admin.delete("/api/v1/prompts?language=he&name=welcome-main")).status_code == 204
    assert not path.exists()
    assert (await admin.delete("/api/v1/prompts?language=he&name=welcome-main")).status_code == 404


async def test_upload_over_the_size_limit_is_refused(box: Box) -> None:
    admin = await box.login("admin")
    big = b"RIFF" + b"\0" * (5 * 1024 * 1024 + 10)
    r = await admin.put("/api/v1/prompts?language=en&name=huge", content=big)
    assert r.status_code == 422 and "larger than" in r.json()["message"]
    assert await box.rows("SELECT * FROM custom_prompts") == []

