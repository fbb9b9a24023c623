"""Fixtures: a real mosquitto, the fleet service on its own store, in-process boxes."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from appliance.storage.db import open_db
from appliance.sync.client import SyncClient, SyncSettings
from appliance.sync.clock import SystemClock
from appliance.sync.link import State
from appliance.sync.outbox import Outbox
from appliance.sync.ulid import UlidGenerator
from tests.support.mosquitto import FLEET_USER, Mosquitto
from tests.support.postgres import Postgres
from web.fleet.service import FleetService, FleetSettings
from web.fleet.store import FleetStorage, open_store

PASSWORDS = {FLEET_USER: "fleet-pw", "box-1": "pw-1", "box-2": "pw-2", "box-3": "pw-3"}

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running mosquitto with the per-box ACL; stopped at the end."""
    m = Mosquitto(tmp_path / "broker", dict(PASSWORDS))
    m.start()
    try:
        yield m
    finally:
        m.stop()


STORE_KINDS = ("sqlite", "postgres")
_db_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One real PostgreSQL server for the session (started only if a test asks for it)."""
    pg = Postgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def store_kind() -> str:
    """Which fleet store a test runs on; tests parametrize this to run on both."""
    return "sqlite"


@pytest.fixture
async def fleet_store(store_kind: str, tmp_path: Path,
                      request: pytest.FixtureRequest) -> AsyncIterator[FleetStorage]:
    """An empty fleet store of `store_kind` (a fresh PostgreSQL database per test)."""
    dsn = None
    if store_kind == "postgres":
        pg: Postgres = request.getfixturevalue("postgres")
        dsn = pg.create_database(f"fleet_{next(_db_names)}")
    store = await open_store(tmp_path / "fleet.db", dsn)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def fleet(broker: Mosquitto, fleet_store: FleetStorage) -> AsyncIterator[FleetService]:
    """The fleet service subscribed to all boxes."""
    store = fleet_store
    svc = FleetService(FleetSettings("127.0.0.1", broker.port, FLEET_USER,
                                     PASSWORDS[FLEET_USER], resync_interval=2.0),
                       store, SystemClock())
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


class Box:
    """An in-process box: outbox on its own database plus the sync client."""

    def __init__(self, outbox: Outbox, client: SyncClient) -> None:
        self.outbox = outbox
        self.client = client
        self._state_changed = asyncio.Event()
        client.link.listeners.append(lambda _o, _n: self._state_changed.set())

    async def until(self, state: State, timeout: float = 20.0) -> None:
        """Wait until the link reaches `state`."""
        async def _wait() -> None:
            while self.client.link.state is not state:
                self._state_changed.clear()
                await self._state_changed.wait()
        await asyncio.wait_for(_wait(), timeout)


BoxFactory = Callable[..., "asyncio.Future[Box]"]


@pytest.fixture
async def make_box(broker: Mosquitto, tmp_path: Path) -> AsyncIterator[Callable[..., object]]:
    """Build started boxes; all are stopped and closed at the end."""
    made: list[Box] = []

    async def _make(node: str = "box-1", *, username: str | None = None,
                    password: str | None = None, start: bool = True, **kw: object) -> Box:
        clock = SystemClock()
        conn = await open_db(tmp_path / f"{node}.db")
        outbox = await Outbox.open(conn, node, clock, UlidGenerator(clock))
        settings = SyncSettings("127.0.0.1", broker.port, node,
                                username=username or node,
                                password=password or PASSWORDS.get(node, "x"),
                                backoff_initial=0.2, backoff_max=1.0, **kw)  # type: ignore[arg-type]
        client = SyncClient(settings, outbox, clock)
        box = Box(outbox, client)
        made.append(box)
        if start:
            await client.start()
        return box

    try:
        yield _make
    finally:
        for box in made:
            await box.client.stop()
            await box.outbox._conn.close()
