"""Check-sync over UDP: a SIP NOTIFY that makes a phone fetch its configuration again."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets

from provisioning import sip

log = logging.getLogger(__name__)

_CONTACT = re.compile(r"^<?sips?:(?:([^@>;]+)@)?([^:;>]+|\[[^\]]+\])(?::(\d+))?", re.I)


def contact_address(contact_uri: str) -> tuple[str, int, str]:
    """(host, port, user) of a Contact URI; raises ValueError on anything else."""
    m = _CONTACT.match(contact_uri.strip())
    if not m:
        raise ValueError(f"not a SIP URI: {contact_uri!r}")
    user, host, port = m.group(1) or "", m.group(2).strip("[]"), int(m.group(3) or 5060)
    if not 0 < port < 65536:
        raise ValueError(f"bad port in {contact_uri!r}")
    return host, port, user


class _Client(asyncio.DatagramProtocol):
    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.final: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        try:
            msg = sip.parse(data)
        except sip.SipParseError as exc:
            log.info("check-sync: ignoring malformed reply from %s: %s", addr[0], exc)
            return
        if msg.is_request or msg.header("call-id") != self.call_id:
            return
        if msg.status >= 200 and not self.final.done():
            self.final.set_result(msg.status)


class UdpCheckSyncSender:
    """Sends NOTIFY over UDP, retransmitting like RFC 3261 timer E until a final answer."""

    def __init__(self, local_host: str = "0.0.0.0", t1: float = 0.5, timeout: float = 4.0,
                 from_host: str = "appliance.invalid") -> None:
        self.local_host = local_host
        self.t1 = t1
        self.timeout = timeout
        self.from_host = from_host

    def build(self, contact_uri: str, event: str, local: tuple[str, int], call_id: str) -> bytes:
        """The NOTIFY datagram for one check-sync."""
        host, port, user = contact_address(contact_uri)
        target = f"sip:{user + '@' if user else ''}{host}:{port}"
        headers = [
            ("Via", f"SIP/2.0/UDP {local[0]}:{local[1]};branch={sip.new_branch()};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:provisioning@{self.from_host}>;tag={sip.new_tag()}"),
            ("To", f"<{target}>"),
            ("Call-ID", call_id),
            ("CSeq", "1 NOTIFY"),
            ("Contact", f"<sip:provisioning@{local[0]}:{local[1]}>"),
            ("Event", event),
            ("Subscription-State", "terminated"),
            ("User-Agent", "edge-appliance-provisioning"),
        ]
        return sip.build(f"NOTIFY {target} SIP/2.0", headers)

    async def check_sync(self, contact_uri: str, event: str) -> int | None:
        """Send the NOTIFY; the final status code, or None if the phone never answered."""
        if not re.fullmatch(r"[a-z0-9\-]+", event):
            raise ValueError(f"bad event package {event!r}")
        host, port, _ = contact_address(contact_uri)
        loop = asyncio.get_running_loop()
        call_id = f"{secrets.token_hex(10)}@{self.from_host}"
        transport, proto = await loop.create_datagram_endpoint(
            lambda: _Client(call_id), local_addr=(self.local_host, 0)
        )
        try:
            local = transport.get_extra_info("sockname")
            datagram = self.build(contact_uri, event, (local[0], local[1]), call_id)
            deadline = loop.time() + self.timeout
            interval = self.t1
            while True:
                transport.sendto(datagram, (host, port))
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                try:
                    return await asyncio.wait_for(asyncio.shield(proto.final),
                                                  min(interval, remaining))
                except TimeoutError:
                    interval = min(interval * 2, 4.0)
        finally:
            transport.close()
