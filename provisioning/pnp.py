"""SIP plug-and-play: answer phones' multicast SUBSCRIBE (Event: ua-profile) with our URL."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from provisioning import sip
from provisioning.model import InvalidMac, normalize_mac
from provisioning.ports import Clock, SystemClock
from provisioning.ratelimit import TokenBucketLimiter

log = logging.getLogger(__name__)

PNP_GROUP = "224.0.1.75"
PNP_PORT = 5060


@dataclass(frozen=True)
class PhoneAnnouncement:
    """A phone that asked for its provisioning URL."""

    mac: str
    ip: str
    vendor: str
    model: str
    user_agent: str


OnPhone = Callable[[PhoneAnnouncement], Awaitable[object]]


def announcement(msg: sip.SipMessage, ip: str) -> PhoneAnnouncement | None:
    """The phone behind a ua-profile SUBSCRIBE, or None if this is not one."""
    if not msg.is_request or msg.method != "SUBSCRIBE":
        return None
    event = msg.header("event") or ""
    if event.split(";", 1)[0].strip().lower() != "ua-profile":
        return None
    mac = None
    for candidate in (sip.uri_user(msg.header("from") or ""), sip.uri_user(msg.request_uri)):
        if candidate is None:
            continue
        try:
            mac = normalize_mac(candidate)
            break
        except InvalidMac:
            continue
    if mac is None:
        return None
    params = sip.header_params(event)
    return PhoneAnnouncement(mac, ip, params.get("vendor", ""), params.get("model", ""),
                             msg.header("user-agent") or "")


class PnpResponder(asyncio.DatagramProtocol):
    """Replies 200 OK, then a NOTIFY whose body is the provisioning URL."""

    def __init__(
        self,
        provisioning_url: str,
        on_phone: OnPhone | None = None,
        limiter: TokenBucketLimiter | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.provisioning_url = provisioning_url
        self.on_phone = on_phone
        self.limiter = limiter or TokenBucketLimiter(burst=20, rate=1.0)
        self.clock = clock or SystemClock()
        self.transport: asyncio.DatagramTransport | None = None
        self._cseq = itertools.count(1)
        self._tasks: set[asyncio.Task[object]] = set()
        self.answered = 0
        self.ignored = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the socket."""
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        """Handle one datagram; anything malformed is logged and ignored."""
        ip = str(addr[0])
        try:
            self._handle(data, (ip, int(addr[1])))
        except sip.SipParseError as exc:
            self.ignored += 1
            log.info("ignoring malformed SIP from %s: %s", ip, exc)
        except Exception:
            self.ignored += 1
            log.exception("ignoring datagram from %s after an error", ip)

    def _handle(self, data: bytes, addr: tuple[str, int]) -> None:
        msg = sip.parse(data)
        if not msg.is_request:
            return  # the phone's 200 OK to our NOTIFY
        phone = announcement(msg, addr[0])
        if phone is None:
            self.ignored += 1
            log.debug("ignoring %s from %s", msg.method, addr[0])
            return
        now = self.clock.now()
        if not self.limiter.allowed(addr[0], now):
            self.ignored += 1
            log.warning("PnP flood from %s: ignoring", addr[0])
            return
        self.limiter.spend(addr[0], now)
        assert self.transport is not None
        tag = sip.new_tag()
        self.transport.sendto(
            sip.response(msg, 200, "OK", tag, [("Expires", "0")]), addr
        )
        self.transport.sendto(self._notify(msg, tag, addr), addr)
        self.answered += 1
        log.info("PnP: sent %s to %s (%s)", self.provisioning_url, phone.mac, addr[0])
        if self.on_phone is not None:
            task = asyncio.get_running_loop().create_task(self._report(phone))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def wait_reports(self) -> None:
        """Wait until every phone reported so far has been handed to `on_phone`."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def _report(self, phone: PhoneAnnouncement) -> None:
        assert self.on_phone is not None
        try:
            await self.on_phone(phone)
        except Exception:
            log.exception("PnP: recording phone %s failed", phone.mac)

    def _notify(self, sub: sip.SipMessage, tag: str, addr: tuple[str, int]) -> bytes:
        assert self.transport is not None
        local = self.transport.get_extra_info("sockname")
        host, port = local[0], local[1]
        contact = sub.header("contact") or ""
        target = contact.strip().strip("<>").split(">")[0] if "sip:" in contact else ""
        if not target.startswith("sip:"):
            target = f"sip:{addr[0]}:{addr[1]}"
        to_tag = sub.header("to") or ""
        if ";tag=" not in to_tag.lower():
            to_tag = f"{to_tag};tag={tag}"
        body = self.provisioning_url.encode("utf-8")
        headers = [
            ("Via", f"SIP/2.0/UDP {host}:{port};branch={sip.new_branch()};rport"),
            ("Max-Forwards", "70"),
            ("From", to_tag),
            ("To", sub.header("from") or ""),
            ("Call-ID", sub.header("call-id") or ""),
            ("CSeq", f"{next(self._cseq)} NOTIFY"),
            ("Event", sub.header("event") or "ua-profile"),
            ("Subscription-State", "terminated;reason=timeout"),
            ("Content-Type", "application/url"),
        ]
        return sip.build(f"NOTIFY {target} SIP/2.0", headers, body)


def _socket(host: str, port: int, interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    first_octet = int(host.split(".")[0]) if host[:1].isdigit() else 0
    if 224 <= first_octet <= 239:
        sock.bind((host, port))
        mreq = struct.pack("4s4s", socket.inet_aton(host), socket.inet_aton(interface))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    else:
        sock.bind((host, port))
    sock.setblocking(False)
    return sock


async def start_responder(
    provisioning_url: str,
    host: str = PNP_GROUP,
    port: int = PNP_PORT,
    interface: str = "0.0.0.0",
    on_phone: OnPhone | None = None,
) -> tuple[asyncio.DatagramTransport, PnpResponder]:
    """Listen on `host:port` (a multicast group is joined on `interface`) and answer."""
    sock = _socket(host, port, interface)
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: PnpResponder(provisioning_url, on_phone), sock=sock
    )
    return transport, protocol


async def _main(args: argparse.Namespace) -> None:
    host, _, port = args.bind.rpartition(":")
    transport, _ = await start_responder(args.url, host, int(port), args.interface)
    print(f"listening on {args.bind}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        transport.close()


def main() -> None:
    """Run the responder alone: `python -m provisioning.pnp --url http://box/prov/`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--bind", default=f"{PNP_GROUP}:{PNP_PORT}")
    parser.add_argument("--interface", default="0.0.0.0")
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
