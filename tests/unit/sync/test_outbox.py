"""Outbox on a real SQLite file: durability, seq, bounds, removal."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.storage.db import open_db
from appliance.sync.clock import ManualClock
from appliance.sync.outbox import OUTBOX_FULL, Outbox, OutboxError
from appliance.sync.policy import Overflow, Policies, StreamPolicy
from appliance.sync.ulid import UlidGenerator


async def _open(path: Path, policies: Policies | None = None) -> Outbox:
    clock = ManualClock()
    return await Outbox.open(await open_db(path), "box-1", clock, UlidGenerator(clock), policies)


async def test_append_is_on_disk_and_seq_survives_reopen(tmp_path: Path) -> None:
    db = tmp_path / "box.db"
    box = await _open(db)
    a = await box.append("cdr", "cdr", {"call": 1})
    b = await box.append("queue", "joined", {"q": "sales"})
    assert (a.seq, b.seq) == (1, 2)
    await box._conn.close()  # a second connection sees it: it was committed
    again = await _open(db)
    rows = await again.pending(0, 10)
    assert [(r.stream, r.envelope.seq, r.envelope.data) for r in rows] == [
        ("cdr", 1, {"call": 1}), ("queue", 2, {"q": "sales"})]
    assert rows[0].envelope.id == a.id
    c = await again.append("cdr", "cdr", {"call": 2})
    assert c.seq == 3 and c.session != a.session
    await again._conn.close()


async def test_remove_deletes_only_given_rows(tmp_path: Path) -> None:
    box = await _open(tmp_path / "box.db")
    await box.append_many("cdr", [("cdr", {"n": i}) for i in range(5)])
    rows = await box.pending(0, 10)
    assert await box.remove([(r.rowid, r.stream) for r in rows[:3]]) == 3
    assert [r.envelope.data["n"] for r in await box.pending(0, 10)] == [3, 4]
    assert box.backlog() == {"cdr": 2}
    assert await box.remove([(rows[0].rowid, "cdr")]) == 0  # already gone: no-op
    assert box.backlog() == {"cdr": 2}
    await box._conn.close()


@pytest.mark.parametrize(
    ("stream", "type_", "data", "reason"),
    [
        ("Bad/Stream", "x", {}, "stream"),
        ("cdr", "", {}, "type"),
        ("cdr", "x", {"f": object()}, "JSON"),
        ("cdr", "x", {"big": "x" * 70_000}, "too large"),
    ],
)
async def test_bad_event_is_refused_and_changes_nothing(
    tmp_path: Path, stream: str, type_: str, data: dict[str, object], reason: str
) -> None:
    box = await _open(tmp_path / "box.db")
    await box.append("cdr", "cdr", {"ok": True})
    with pytest.raises(OutboxError, match=reason):
        await box.append(stream, type_, data)
    assert box.seq == 1
    assert len(await box.pending(0, 10)) == 1
    await box._conn.close()


async def test_full_durable_stream_keeps_events_and_raises_one_alarm(tmp_path: Path) -> None:
    pol = Policies({"cdr": StreamPolicy("cdr", 3, Overflow.KEEP_AND_ALARM)})
    box = await _open(tmp_path / "box.db", pol)
    for i in range(6):
        await box.append("cdr", "cdr", {"n": i})
    rows = await box.pending(0, 100)
    assert [r.envelope.data["n"] for r in rows if r.stream == "cdr"] == list(range(6))
    alarms = [r.envelope.data for r in rows if r.stream == "alarm"]
    assert [a["alarm"] for a in alarms] == [OUTBOX_FULL]
    assert alarms[0]["stream"] == "cdr"
    await box.remove([(r.rowid, r.stream) for r in rows if r.stream == "cdr"])
    after = [r.envelope.data for r in await box.pending(0, 100) if r.stream == "alarm"]
    assert [a["alarm"] for a in after] == [OUTBOX_FULL, "outbox_cleared"]
    await box._conn.close()


async def test_metrics_keep_newest_and_never_take_a_durable_seq(tmp_path: Path) -> None:
    pol = Policies({"metrics": StreamPolicy("metrics", 3, Overflow.DROP_OLDEST)})
    box = await _open(tmp_path / "box.db", pol)
    await box.append("cdr", "cdr", {})
    for i in range(10):
        await box.append("metrics", "metrics", {"n": i})
    metrics = [r for r in await box.pending(0, 100) if r.stream == "metrics"]
    assert [r.envelope.data["n"] for r in metrics] == [7, 8, 9]
    assert {r.envelope.seq for r in metrics} == {1}
    assert box.backlog() == {"cdr": 1, "metrics": 3}
    assert (await box.append("cdr", "cdr", {})).seq == 2
    await box._conn.close()
