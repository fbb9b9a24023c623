"""Wire provisioning by hand for the composition root: service, routers, PnP responder."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
from fastapi import APIRouter

from provisioning.notify import UdpCheckSyncSender
from provisioning.pnp import PNP_GROUP, PNP_PORT, PhoneAnnouncement, PnpResponder, start_responder
from provisioning.ports import Clock, RegisteredContacts, SystemClock
from provisioning.profile import SiteSettings
from provisioning.ratelimit import TokenBucketLimiter
from provisioning.secrets import (
    ExtensionNames,
    PasswordIssuer,
    SealedDirectory,
    SecretBox,
    SipSecretStore,
    load_or_create_key,
)
from provisioning.server import admin_router, config_router, redact_tokens_in_logs
from provisioning.service import ProvisioningService, ServiceOptions
from provisioning.store import DeviceStore


@dataclass
class Provisioning:
    """The provisioning part of the appliance, ready to mount and start."""

    service: ProvisioningService
    config_routes: APIRouter  # mount where phones fetch, e.g. /prov
    admin_routes: APIRouter  # mount behind admin authentication, e.g. /api/provisioning

    async def start_pnp(
        self, host: str = PNP_GROUP, port: int = PNP_PORT, interface: str = "0.0.0.0"
    ) -> tuple[asyncio.DatagramTransport, PnpResponder]:
        """Answer SIP plug-and-play SUBSCRIBEs; phones that ask are listed as pending."""

        async def on_phone(phone: PhoneAnnouncement) -> None:
            await self.service.note_seen(phone.mac, phone.ip,
                                         phone.user_agent or f"{phone.vendor} {phone.model}")

        return await start_responder(self.service.site.provisioning_url, host, port,
                                     interface, on_phone)


def build_provisioning(
    db: aiosqlite.Connection,
    data_dir: Path,
    site: SiteSettings,
    names: ExtensionNames,
    issuer: PasswordIssuer,
    contacts: RegisteredContacts | None = None,
    clock: Clock | None = None,
    options: ServiceOptions | None = None,
    sip_local_host: str = "0.0.0.0",
) -> Provisioning:
    """Build the service on the appliance database with the sealing key in `data_dir`."""
    box = SecretBox(load_or_create_key(data_dir / "keys" / "provisioning.key"))
    directory = SealedDirectory(names, issuer, SipSecretStore(db, box))
    service = ProvisioningService(
        DeviceStore(db), directory, site, clock or SystemClock(), TokenBucketLimiter(),
        contacts=contacts, sender=UdpCheckSyncSender(local_host=sip_local_host),
        options=options,
    )
    redact_tokens_in_logs()
    return Provisioning(service, config_router(service), admin_router(service))
