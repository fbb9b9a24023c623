"""The trunk tables on a real SQLite file: round trip, sealed passwords, refusals change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.storage.calls import CallStore
from appliance.storage.db import open_db
from appliance.storage.trunks import TrunkStore
from appliance.trunks.model import CallerIdMode, CallerIdRule, OutboundRoute, Trunk, TrunkError, TrunkKind
from appliance.trunks.tollfraud import BlockedPrefix, PermissionClass, TollPolicy
from provisioning.secrets import SecretBox

ITSP = Trunk("itsp", TrunkKind.SIP, "127.0.0.1", 5090, username="acct1")
GSM = Trunk("gsm", TrunkKind.GSM, "127.0.0.1", 5092)
ROUTE = OutboundRoute(
    "national", r"0[0-9]{9}", ("itsp", "gsm"),
    {TrunkKind.SIP: CallerIdRule(CallerIdMode.FIXED, number="+442071234567")},
)


async def test_round_trip_and_sealed_password(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "a.db")
    try:
        store = TrunkStore(db, SecretBox(b"k" * 32))
        await store.put_trunk(ITSP, "s3cret-pass", create=True)
        await store.put_trunk(GSM, None, create=True)
        await store.put_route(ROUTE, create=True)
        cfg = await store.load()
        assert cfg.trunks == {"gsm": GSM, "itsp": ITSP}
        assert cfg.routes == [ROUTE]
        assert await store.password("itsp") == "s3cret-pass"
        assert await store.password("gsm") is None
        async with db.execute("SELECT secret FROM trunks WHERE name = 'itsp'") as cur:
            row = await cur.fetchone()
        assert row is not None and b"s3cret-pass" not in bytes(row[0])
        # an update without a password keeps the stored one
        await store.put_trunk(Trunk("itsp", TrunkKind.SIP, "127.0.0.1", 5091, username="acct1"), None, create=False)
        assert await store.password("itsp") == "s3cret-pass"
    finally:
        await db.close()


async def test_refusals_change_nothing(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "a.db")
    try:
        store = TrunkStore(db, SecretBox(b"k" * 32))
        await store.put_trunk(ITSP, None, create=True)
        with pytest.raises(TrunkError, match="exists"):
            await store.put_trunk(ITSP, None, create=True)
        with pytest.raises(TrunkError, match="already uses"):
            await store.put_trunk(Trunk("other", TrunkKind.SIP, "127.0.0.1", 5090), None, create=True)
        with pytest.raises(TrunkError, match="unknown trunk"):
            await store.put_route(ROUTE, create=True)  # gsm does not exist
        await store.put_route(OutboundRoute("n", r"0[0-9]{9}", ("itsp",)), create=True)
        with pytest.raises(TrunkError, match="used by an outbound route"):
            await store.delete_trunk("itsp")
        with pytest.raises(TrunkError, match="unknown extension"):
            await store.put_policy(TollPolicy(classes={"999": PermissionClass.PREMIUM}))
        cfg = await store.load()
        assert list(cfg.trunks) == ["itsp"]
        assert [r.name for r in cfg.routes] == ["n"]
        assert cfg.policy == TollPolicy()
    finally:
        await db.close()


async def test_policy_round_trip_and_calls_counted_from_cdrs(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "a.db")
    try:
        await db.execute("INSERT INTO extensions(number, ha1, realm) VALUES ('101', 'x', 'r')")
        store = TrunkStore(db, SecretBox(b"k" * 32))
        policy = TollPolicy(
            allowed_patterns=(r"0[0-9]{9,}",), blocked=(BlockedPrefix("00", PermissionClass.INTERNATIONAL),),
            default_class=PermissionClass.LOCAL, classes={"101": PermissionClass.PREMIUM}, max_calls_per_hour=5,
        )
        await store.put_policy(policy)
        assert (await store.load()).policy == policy
        calls = CallStore(db)
        now = datetime(2026, 1, 1, 12, tzinfo=UTC)
        await calls.cdr_open("old", "outbound", "101", "0201234567", now - timedelta(hours=2))
        await calls.cdr_open("a", "outbound", "101", "0201234567", now - timedelta(minutes=30))
        await calls.cdr_open("b", "outbound", "101", "0201234567", now)
        await calls.cdr_open("c", "extension", "101", "102", now)
        assert await store.outbound_calls_since("101", now - timedelta(hours=1)) == 2
        assert await store.outbound_calls_since("101", now - timedelta(hours=1), exclude="b") == 1
    finally:
        await db.close()
