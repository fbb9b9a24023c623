"""System settings changed from the web UI: the HTTPS certificate (audited)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from appliance.domain.clock import Clock
from appliance.web_services import audit, certs
from appliance.web_services.audit import Actor
from appliance.web_services.tx import Writer


class SystemAdmin:
    """Installs an uploaded certificate and records who did it."""

    def __init__(self, writer: Writer, clock: Clock, data_dir: Path) -> None:
        self._writer = writer
        self._clock = clock
        self._data_dir = data_dir

    async def install_certificate(self, actor: Actor, cert_pem: bytes, key_pem: bytes) -> tuple[Path, Path]:
        """Check and install a certificate and key; the audit row names its fingerprint."""
        leaf = certs.check_pair(cert_pem, key_pem)
        paths = await asyncio.to_thread(certs.install_certificate, self._data_dir, cert_pem, key_pem)
        subject = leaf.subject.rfc4514_string()

        def go(conn: sqlite3.Connection) -> None:
            audit.record(conn, self._clock, actor, "tls.install", subject,
                         not_after=leaf.not_valid_after_utc.isoformat())

        await self._writer.run(go)
        return paths
