"""A real UDP socket on loopback standing in for a desk phone's SIP port."""

from __future__ import annotations

import asyncio
from typing import cast

from provisioning import sip


class PhoneSocket(asyncio.DatagramProtocol):
    """Receives datagrams into a queue; the test decides what to answer."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the socket."""
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        """Queue what arrived."""
        self.inbox.put_nowait((data, (str(addr[0]), int(addr[1]))))

    async def receive(self, timeout: float = 5.0) -> tuple[sip.SipMessage, tuple[str, int]]:
        """The next SIP message (the timeout only guards against a hung test)."""
        data, addr = await asyncio.wait_for(self.inbox.get(), timeout)
        return sip.parse(data), addr

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        """Send a datagram."""
        assert self.transport is not None
        self.transport.sendto(data, addr)

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the socket is bound to."""
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)


async def open_phone(host: str = "127.0.0.1") -> PhoneSocket:
    """Bind a PhoneSocket on a free loopback port."""
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_datagram_endpoint(PhoneSocket, local_addr=(host, 0))
    return proto
