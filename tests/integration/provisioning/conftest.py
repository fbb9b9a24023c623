"""Fixtures: a real SQLite database, the real service and the real HTTP app on ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from appliance.storage.db import open_db
from provisioning.credentials import PasswordVault
from provisioning.ports import CheckSyncSender, RegisteredContacts, StaticDirectory
from provisioning.profile import SipAccount, SiteSettings
from provisioning.ratelimit import TokenBucketLimiter
from provisioning.server import admin_router, config_router, install_error_handler
from provisioning.service import ProvisioningService, ServiceOptions
from provisioning.store import DeviceStore

PHONE_IP = "192.0.2.50"
YEALINK_UA = "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc"


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        """Current fake time."""
        return self.t

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.t += seconds


class ContactTable:
    """Registrar contacts set by the test (the registrar is the foundation's Kamailio)."""

    def __init__(self) -> None:
        self.contacts: dict[str, str] = {}

    async def contact_of(self, extension: str) -> str | None:
        """The contact the test registered for `extension`."""
        return self.contacts.get(extension)


@dataclass
class Box:
    """Everything a provisioning test touches."""

    service: ProvisioningService
    store: DeviceStore
    clock: ManualClock
    directory: StaticDirectory
    app: FastAPI
    contacts: ContactTable

    def client(self, ip: str = PHONE_IP, scheme: str = "https",
               user_agent: str = YEALINK_UA) -> httpx.AsyncClient:
        """An HTTP client that looks like a phone at `ip`."""
        transport = httpx.ASGITransport(app=self.app, client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url=f"{scheme}://box.lan/prov",
                                 headers={"User-Agent": user_agent})


SITE = SiteSettings(sip_host="192.0.2.1", provisioning_url="https://box.lan/prov/",
                    timezone="Europe/Warsaw", language="pl")


def make_box(db_store: DeviceStore, sender: CheckSyncSender | None = None,
             burst: int = 10) -> Box:
    clock = ManualClock()
    directory = StaticDirectory({
        "1001": SipAccount("1001", "Zoë & <Sales> \"א\"", "1001", "sip-Secret-1001"),
        "1002": SipAccount("1002", "Bob", "1002", "sip-Secret-1002"),
        "1003": SipAccount("1003", "Carol", "1003", "sip-Secret-1003"),
    })
    contacts = ContactTable()
    contacts_port: RegisteredContacts = contacts
    service = ProvisioningService(
        db_store, directory, SITE, clock, TokenBucketLimiter(burst=burst, rate=0.1),
        vault=PasswordVault(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)),
        contacts=contacts_port, sender=sender, options=ServiceOptions(max_pending=50),
    )
    app = FastAPI()
    install_error_handler(app)
    app.include_router(config_router(service), prefix="/prov")
    app.include_router(admin_router(service), prefix="/api/provisioning")
    return Box(service, db_store, clock, directory, app, contacts)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[DeviceStore]:
    db = await open_db(tmp_path / "appliance.db")
    try:
        yield DeviceStore(db)
    finally:
        await db.close()


@pytest.fixture
async def box(store: DeviceStore) -> AsyncIterator[Box]:
    b = make_box(store)
    yield b
    await b.service.wait_notifications()
