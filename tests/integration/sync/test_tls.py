"""TLS with a client certificate: the certificate's CN is the box's identity for the ACL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.storage.db import open_db
from appliance.sync.client import SyncClient, SyncSettings, TlsSettings
from appliance.sync.clock import SystemClock
from appliance.sync.outbox import Outbox
from appliance.sync.ulid import UlidGenerator
from tests.integration.sync.conftest import PASSWORDS
from tests.support.mosquitto import FLEET_USER, BrokerCa, Mosquitto, make_test_ca
from web.fleet.service import FleetService, FleetSettings
from web.fleet.store import FleetStore

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, BrokerCa]]:
    ca = make_test_ca(tmp_path / "ca")
    m = Mosquitto(tmp_path / "broker", dict(PASSWORDS), tls=ca)
    m.start()
    try:
        yield m, ca
    finally:
        m.stop()


async def test_box_with_client_certificate_delivers_only_under_its_own_name(
    tls_broker: tuple[Mosquitto, BrokerCa], tmp_path: Path
) -> None:
    broker, ca = tls_broker
    store = await FleetStore.open(tmp_path / "fleet.db")
    fleet = FleetService(FleetSettings("127.0.0.1", broker.port, FLEET_USER,
                                       PASSWORDS[FLEET_USER]), store, SystemClock())
    await fleet.start()
    cert, key = ca.client_cert("box-1")
    clients: list[SyncClient] = []
    try:
        for node in ("box-1", "box-2"):  # box-2 presents box-1's certificate
            clock = SystemClock()
            conn = await open_db(tmp_path / f"{node}.db")
            outbox = await Outbox.open(conn, node, clock, UlidGenerator(clock))
            client = SyncClient(SyncSettings(
                "127.0.0.1", broker.tls_port, node, backoff_max=1.0,
                tls=TlsSettings(str(ca.ca_cert), str(cert), str(key))), outbox, clock)
            clients.append(client)
            await outbox.append("cdr", "cdr", {"node": node})
            await client.start()
        good, bad = clients
        assert await good.wait_for(lambda: good.delivered >= 1, 15)
        assert await bad.wait_for(lambda: bad.connects >= 2, 15)
        assert await fleet.wait_for(lambda: fleet.stored >= 1, 15)
        assert [e["data"] for e in await store.events("box-1")] == [{"node": "box-1"}]
        assert await store.events("box-2") == []
        assert bad.outbox.backlog_total() == 1
    finally:
        for c in clients:
            await c.stop()
            await c.outbox._conn.close()
        await fleet.stop()
        await store.close()
