"""Backup and restore: a backup from another box brings back its configuration; bad files change nothing."""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from appliance.domain.dialplan import MediaService, ToMedia, route
from appliance.web_services.backup import EXCLUDED, MAGIC, config_tables
from tests.unit.web.conftest import ADMIN_PASSWORD, QUEUE, Box, _make_box

OTHER_PASSWORD = "other box admin 1"


@pytest.fixture
async def other(tmp_path: Path) -> AsyncIterator[Box]:
    """A second box with its own admin and one extension, 201."""
    box = await _make_box(tmp_path / "other")
    try:
        c = box.client()
        r = await c.post("/api/v1/setup", json={"username": "root", "password": OTHER_PASSWORD})
        assert r.status_code == 201
        c.headers["x-csrf-token"] = r.json()["csrf_token"]
        assert (await c.post("/api/v1/extensions", json={"number": "201"})).status_code == 201
        yield box
    finally:
        for cl in box.clients:
            await cl.aclose()
        await box.ctl.queues.stop()
        await box.ctl.db.close()


async def config(box: Box) -> dict[str, list[tuple[Any, ...]]]:
    """Every configuration table's rows, as a restore must reproduce them."""
    conn = sqlite3.connect(box.ctl.settings.db_path)
    try:
        return {t: sorted(map(tuple, conn.execute(f'SELECT * FROM "{t}"')), key=repr) for t in config_tables(conn)}
    finally:
        conn.close()


async def take_backup(box: Box) -> bytes:
    admin = await box.login("admin")
    r = await admin.get("/api/v1/backup")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/gzip" and "attachment" in r.headers["content-disposition"]
    return r.content


def repack(blob: bytes, edit_header: Any = None, edit_payload: Any = None, fix_checksum: bool = True) -> bytes:
    raw = gzip.decompress(blob)
    head, _, payload = raw[len(MAGIC):].partition(b"\n")
    header = json.loads(head)
    if edit_payload:
        body = json.loads(payload)
        edit_payload(body)
        payload = json.dumps(body).encode()
    if fix_checksum:
        header["sha256"] = hashlib.sha256(payload).hexdigest()
    if edit_header:
        edit_header(header)
    return gzip.compress(MAGIC + json.dumps(header).encode() + b"\n" + payload)


async def other_admin(other: Box) -> Any:
    c = other.client()
    r = await c.post("/api/v1/session", json={"username": "root", "password": OTHER_PASSWORD})
    c.headers["x-csrf-token"] = r.json()["csrf_token"]
    return c


async def test_a_backup_from_another_box_brings_back_its_configuration(box: Box, other: Box) -> None:
    await box.ctl.queues.store.create_queue(QUEUE)
    source = await config(box)
    assert source["queues"] and source["queue_members"] and len(source["extensions"]) == 3
    blob = await take_backup(box)

    admin = await other_admin(other)
    before = await config(other)
    r = await admin.post("/api/v1/backup/restore", content=blob)  # dry run by default
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["dry_run"] is True and report["applied"] is False
    assert report["tables"]["extensions"] == {"added": 3, "removed": 1, "changed": 0, "unchanged": 0}
    assert report["tables"]["queues"]["added"] == 1
    assert report["tables"]["web_users"] == {"added": 2, "removed": 0, "changed": 1, "unchanged": 0}
    assert await config(other) == before  # a dry run changes nothing
    assert "101" not in other.ctl.sessions.directory.extensions

    r = await admin.post("/api/v1/backup/restore", params={"dry_run": "false"}, content=blob)
    assert r.status_code == 200 and r.json()["applied"] is True, r.text
    assert await config(other) == source
    assert "101" in other.ctl.sessions.directory.extensions and "201" not in other.ctl.sessions.directory.extensions
    # every login ends; the restored admin's password is the one that works now
    assert (await admin.get("/api/v1/me")).status_code == 401
    c = other.client()
    assert (await c.post("/api/v1/session", json={"username": "admin", "password": ADMIN_PASSWORD})).status_code == 200
    (_action, target), = await other.rows("SELECT action, target FROM audit_log WHERE action = 'backup.restore'")
    assert target  # the source box's name
    # restoring the same file again changes nothing
    again = await (await other.login("admin")).post("/api/v1/backup/restore", content=blob)
    assert all(c.get("added", 0) + c.get("removed", 0) + c.get("changed", 0) == 0
               for c in again.json()["tables"].values())


@pytest.mark.parametrize(("name", "mangle", "error_id"), [
    ("not gzip", lambda b: b"PK\x03\x04 a zip file", "backup_foreign"),
    ("gzip of something else", lambda b: gzip.compress(b"hello world\n"), "backup_foreign"),
    ("truncated", lambda b: b[: len(b) // 2], "backup_foreign"),
    ("payload edited, checksum kept", lambda b: repack(
        b, edit_payload=lambda p: p["tables"]["extensions"]["rows"].pop(), fix_checksum=False), "backup_corrupt"),
    ("newer schema", lambda b: repack(b, edit_header=lambda h: h["migrations"].append(9999)),
     "backup_newer_schema"),
    ("unknown table", lambda b: repack(
        b, edit_payload=lambda p: p["tables"].update(cdrs={"columns": ["id"], "rows": [[1]]})),
     "backup_table_unknown"),
    ("rule broken", lambda b: repack(
        b, edit_payload=lambda p: p["tables"]["extensions"]["rows"][0].__setitem__(0, "x1")), "backup_rejected"),
    ("dangling member", lambda b: repack(
        b, edit_payload=lambda p: p["tables"]["extensions"]["rows"].pop()), "backup_inconsistent"),
])
async def test_a_corrupt_or_foreign_file_is_refused_with_a_reason_and_nothing_changes(
        box: Box, other: Box, name: str, mangle: Any, error_id: str) -> None:
    blob = mangle(await take_backup(box))
    admin = await other_admin(other)
    before = await config(other)
    for dry in ("true", "false"):
        r = await admin.post("/api/v1/backup/restore", params={"dry_run": dry}, content=blob)
        assert r.status_code == 422, (name, r.text)
        assert r.json()["error_id"] == error_id, (name, r.json())
    assert await config(other) == before
    assert (await admin.get("/api/v1/me")).status_code == 200  # nobody was logged out
    assert await other.rows("SELECT count(*) FROM audit_log WHERE action = 'backup.restore'") == [(0,)]


async def test_backup_is_for_admins_and_needs_a_body(box: Box) -> None:
    blob = await take_backup(box)
    sup = await box.login("sup")
    before = await config(box)
    assert (await sup.get("/api/v1/backup")).status_code == 403
    r = await sup.post("/api/v1/backup/restore", params={"dry_run": "false"}, content=blob)
    assert r.status_code == 403 and r.json()["error_id"] == "role_forbidden"
    assert (await sup.get("/settings/backup")).status_code == 403
    admin = await box.login("admin")
    r = await admin.post("/api/v1/backup/restore", content=b"")
    assert r.status_code == 422 and r.json()["error_id"] == "backup_missing"
    assert await config(box) == before
    assert (await admin.get("/settings/backup")).status_code == 200
    assert await box.rows("SELECT count(*) FROM audit_log WHERE action = 'backup.download'") == [(1,)]


async def test_configuration_is_every_table_but_the_excluded_call_data(box: Box) -> None:
    conn = sqlite3.connect(box.ctl.settings.db_path)
    try:
        tables = config_tables(conn)
        assert {"extensions", "ring_groups", "ring_group_members", "queues", "queue_members", "web_users",
                "web_user_extensions"} <= set(tables)
        assert not set(tables) & set(EXCLUDED)
        # parents come before children, and no configuration row can point into call data
        for i, t in enumerate(tables):
            for fk in conn.execute(f'PRAGMA foreign_key_list("{t}")'):
                assert fk[2] not in EXCLUDED, (t, fk[2])
                assert fk[2] == t or tables.index(fk[2]) < i, (t, fk[2])
    finally:
        conn.close()


async def test_a_restore_makes_the_live_acd_equal_the_restored_queues_and_skills(box: Box, other: Box) -> None:
    src = await box.login("admin")
    for ext, skills in (("102", {"he": 9, "billing": 4}), ("103", {"he": 3})):
        assert (await src.put(f"/api/v1/agents/{ext}/skills", json={"skills": skills})).status_code == 200
    for body in ({"number": "700", "name": "Support", "members": ["102", "103"], "max_misses": 4},
                 {"number": "720", "name": "Hebrew", "members": [{"extension": "103", "skills": {"he": 8}}, "102"],
                  "skills": ["he"], "tiers": [{"after_s": 0, "min_level": 8}, {"after_s": 30, "min_level": 2}],
                  "max_misses": 2}):
        r = await src.post("/api/v1/queues", json=body)
        assert r.status_code == 201, r.text
    source = await config(box)
    blob = await take_backup(box)

    # The other box runs its own queues: 700 (another member, a caller waiting), 730 idle, 731 with a caller.
    admin = await other_admin(other)
    assert (await admin.put("/api/v1/agents/201/skills", json={"skills": {"fr": 5}})).status_code == 200
    for number in ("700", "730", "731"):
        r = await admin.post("/api/v1/queues", json={"number": number, "name": f"Q {number}", "members": ["201"]})
        assert r.status_code == 201, r.text
    svc = other.ctl.queues
    d = svc.dispatcher
    for queue, call in (("700", "c0"), ("731", "c1")):
        await svc.apply(d.join(queue, call, "0501"), step=True)

    r = await admin.post("/api/v1/backup/restore", params={"dry_run": "false"}, content=blob)
    assert r.status_code == 200 and r.json()["applied"] is True, r.text
    # 201's membership of 700 went with 201 (ON DELETE CASCADE) before 700's row 0 became 102: it is there
    assert await config(other) == source

    # Without a restart: the restored queues with the restored members, skills and tiers
    assert set(svc.rows) == set(d.queues) == {"700", "720", "731"} and svc.draining == {"731"}
    assert svc.agent_skills == {"102": {"he": 9, "billing": 4}, "103": {"he": 3}}
    assert {q: {m: dict(x.skills) for m, x in d.queue(q).members.items()} for q in ("700", "720")} == {
        "700": {"102": {"he": 9, "billing": 4}, "103": {"he": 3}},
        "720": {"103": {"he": 8}, "102": {"he": 9, "billing": 4}},
    }
    assert d.queue("720").config.skills == {"he"} and [(t.after_s, t.min_level) for t in d.queue("720").config.tiers] \
        == [(0, 8), (30, 2)]
    assert d.agent("102").max_misses == 2 and d.agent("103").max_misses == 2  # the strictest restored queue
    assert [c.call_id for c in d.queue("700").waiting] == ["c0"]  # the caller in a queue both boxes have stays
    directory = other.ctl.sessions.directory
    assert {n for n in ("700", "720", "730", "731") if route(n, "102", directory) == ToMedia(
        MediaService.QUEUE, n)} == {"700", "720"}  # 730 dropped; 731 has a caller, so no new ones join it
    # 731 goes as soon as its last caller leaves
    await svc.apply(d.abandon("c1"), step=True)
    assert set(svc.rows) == set(d.queues) == {"700", "720"} and not svc.draining
    restored = await other.login("admin")
    assert [q["number"] for q in (await restored.get("/api/v1/queues")).json()] == ["700", "720"]
    await svc.stop()


async def test_a_restore_puts_back_queue_members_in_their_order_and_skills(box: Box) -> None:
    admin = await box.login("admin")
    body = {"number": "700", "name": "Support", "members": ["102", "103", "101"]}
    assert (await admin.post("/api/v1/queues", json=body)).status_code == 201
    assert (await admin.put("/api/v1/agents/102/skills", json={"skills": {"he": 9}})).status_code == 200
    source = await config(box)
    blob = await take_backup(box)
    # members swap places (each position's extension is another's), skills change
    r = await admin.put("/api/v1/queues/700", json={"name": "Support", "members": ["103", "101", "102"]})
    assert r.status_code == 200, r.text
    assert (await admin.put("/api/v1/agents/102/skills", json={"skills": {"ar": 2}})).status_code == 200
    r = await admin.post("/api/v1/backup/restore", params={"dry_run": "false"}, content=blob)
    assert r.status_code == 200 and r.json()["applied"] is True, r.text
    assert await config(box) == source
    d = box.ctl.queues.dispatcher
    assert list(d.queue("700").members) == ["102", "103", "101"]
    assert dict(d.queue("700").members["102"].skills) == {"he": 9}
    await box.ctl.queues.stop()
