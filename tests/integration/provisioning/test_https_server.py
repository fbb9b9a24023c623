"""The config server under real uvicorn with TLS: Basic over HTTPS works, over HTTP not."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provisioning.store import DeviceStore
from tests.support.net import free_port

from .conftest import YEALINK_UA, Box, make_box


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "appliance.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Running:
    """A uvicorn server started on our socket, stopped by `stop()`."""

    server: uvicorn.Server
    sock: socket.socket
    loop_task: asyncio.Task[None]

    async def stop(self) -> None:
        """Ask the server to exit and wait until it has shut down."""
        self.server.should_exit = True
        await self.loop_task
        await self.server.shutdown(sockets=[self.sock])
        self.sock.close()


async def serve(box: Box, port: int, tls: tuple[Path, Path] | None) -> Running:
    """Start uvicorn (the same steps as Server.serve, so startup can be awaited)."""
    config = uvicorn.Config(
        box.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
        ssl_certfile=str(tls[0]) if tls else None, ssl_keyfile=str(tls[1]) if tls else None,
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    await server.startup(sockets=[sock])
    return Running(server, sock, asyncio.get_running_loop().create_task(server.main_loop()))


@pytest.fixture
async def servers(store: DeviceStore, tmp_path: Path) -> AsyncIterator[tuple[Box, str, str,
                                                                            Path]]:
    box = make_box(store)
    cert, key = self_signed(tmp_path)
    https_port, http_port = free_port(), free_port()
    tls = await serve(box, https_port, (cert, key))
    plain = await serve(box, http_port, None)
    try:
        yield box, f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}", cert
    finally:
        await tls.stop()
        await plain.stop()


async def test_basic_credentials_over_real_tls_get_the_config(
    servers: tuple[Box, str, str, Path],
) -> None:
    box, https_url, http_url, cert = servers
    assignment = await box.service.assign("001565aabbcc", "1001")
    auth = (str(assignment.http_username), str(assignment.http_password))
    trust = ssl.create_default_context(cafile=str(cert))
    async with httpx.AsyncClient(verify=trust, headers={"User-Agent": YEALINK_UA}) as c:
        ok = await c.get(f"{https_url}/prov/001565aabbcc.cfg", auth=auth)
        plain = await c.get(f"{http_url}/prov/001565aabbcc.cfg", auth=auth)
    assert ok.status_code == 200
    assert "account.1.password = sip-Secret-1001" in ok.text
    assert plain.status_code == 401 and "sip-Secret" not in plain.text
