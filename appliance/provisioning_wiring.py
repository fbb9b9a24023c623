"""Provisioning inside the running appliance: the config server on the web port (HTTPS),
the admin API behind admin login, the SIP plug-and-play responder, and the adapters
provisioning needs from the foundation (extension names, password issuing, registrations).
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from typing import TYPE_CHECKING

import aiosqlite
from fastapi import Depends, FastAPI

from provisioning.ports import Colleague
from provisioning.profile import SiteSettings
from provisioning.server import install_error_handler
from provisioning.wiring import Provisioning, build_provisioning

if TYPE_CHECKING:
    from appliance.app import Controller

log = logging.getLogger(__name__)
_ADDRESS = re.compile(r"^\s*Address:\s*(sips?:\S+)", re.M)
_RECEIVED = re.compile(r"^\s*Received:\s*(sips?:\S+)", re.M)


class ExtensionNamesFromDb:
    """Names and colleagues straight from the extensions table."""

    def __init__(self, db: aiosqlite.Connection, blf_keys: int = 10) -> None:
        self._db = db
        self._blf = blf_keys

    async def display_name(self, extension: str) -> str | None:
        """The display name, or None if the extension does not exist."""
        async with self._db.execute("SELECT display_name FROM extensions WHERE number = ?", (extension,)) as cur:
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def colleagues(self, extension: str) -> list[Colleague]:
        """The other extensions, in number order, for BLF keys."""
        async with self._db.execute(
            "SELECT number, display_name FROM extensions WHERE number != ? AND enabled = 1 ORDER BY number LIMIT ?",
            (extension, self._blf),
        ) as cur:
            return [Colleague(str(n), str(d)) for n, d in await cur.fetchall()]


class KamailioContacts:
    """Where an extension's phone is registered, asked of Kamailio over its control socket."""

    def __init__(self, ctl_socket: str) -> None:
        self._ctl = ctl_socket

    async def contact_of(self, extension: str) -> str | None:
        """The first registered Contact URI, or None."""
        kamcmd = shutil.which("kamcmd")
        if kamcmd is None or not re.fullmatch(r"[0-9A-Za-z_.-]+", extension):
            return None
        proc = await asyncio.create_subprocess_exec(
            kamcmd, "-s", f"unix:{self._ctl}", "ul.lookup", "location", f"s:{extension}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 3)
        except TimeoutError:
            proc.kill()
            return None
        text = out.decode(errors="replace")
        found = _RECEIVED.search(text) or _ADDRESS.search(text)  # behind NAT: where it really is
        return found.group(1) if found else None


def build_for(ctl: Controller) -> Provisioning:
    """Provisioning wired to this controller's database and settings."""
    s = ctl.settings
    host = s.sip_ip if s.sip_ip not in ("0.0.0.0", "") else "127.0.0.1"
    site = SiteSettings(
        sip_host=host, sip_port=s.sip_port, provisioning_url=f"https://{host}:{s.web_port}/prov",
    )
    return build_provisioning(
        ctl.db, s.data_dir, site, ExtensionNamesFromDb(ctl.db), ctl.edge.directory,
        contacts=KamailioContacts(str(s.run_dir / "kamailio_ctl")), sip_local_host=host,
    )


def mount(app: FastAPI, prov: Provisioning) -> None:
    """Phones fetch under /prov (they authenticate themselves); admins manage devices under
    /api/v1/provisioning (admin login required)."""
    from appliance.web_services.rules import Role
    from web.local.deps import require

    install_error_handler(app)  # provisioning's own errors -> 401/404/429 without hints
    app.include_router(prov.config_routes, prefix="/prov")
    app.include_router(
        prov.admin_routes, prefix="/api/v1/provisioning", tags=["provisioning"],
        dependencies=[Depends(require(Role.ADMIN))],
    )


async def start_pnp(prov: Provisioning) -> asyncio.DatagramTransport | None:
    """Answer SIP plug-and-play on 224.0.1.75:5060; a box without multicast just logs it."""
    try:
        transport, _ = await prov.start_pnp()
    except OSError as exc:
        log.warning("SIP plug-and-play responder not started: %s", exc)
        return None
    return transport
