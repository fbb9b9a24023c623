"""A minimal UDP SIP client for tests: REGISTER with digest auth (any Contact), raw sends.

Used to register a SIPp agent's address as an extension, to try wrong passwords from a
chosen loopback address, and to send floods and garbage. Loopback addresses only.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def _status(data: bytes) -> int:
    first = data.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) > 1 and first[1].isdigit() else 0


class SipClient:
    """One UDP socket bound to a loopback address."""

    def __init__(self, bind_ip: str = "127.0.0.1", port: int = 0, timeout: float = 2.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((bind_ip, port))
        self.sock.settimeout(timeout)
        self.ip, self.port = self.sock.getsockname()

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def __enter__(self) -> SipClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes, target: tuple[str, int]) -> None:
        """Send raw bytes."""
        self.sock.sendto(data, target)

    def recv(self) -> bytes | None:
        """One datagram, or None on timeout."""
        try:
            return self.sock.recv(65535)
        except TimeoutError:
            return None

    def _register_msg(
        self, user: str, target: tuple[str, int], contact: str, cseq: int, call_id: str, expires: int,
        auth: str = "", user_agent: str = "test-registrar-client",
    ) -> bytes:
        host = f"{target[0]}:{target[1]}"
        lines = [
            f"REGISTER sip:{host} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.ip}:{self.port};rport;branch=z9hG4bK{secrets.token_hex(8)}",
            "Max-Forwards: 70",
            f"From: <sip:{user}@{host}>;tag={secrets.token_hex(4)}",
            f"To: <sip:{user}@{host}>",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <{contact}>",
            f"Expires: {expires}",
            f"User-Agent: {user_agent}",
        ]
        if auth:
            lines.append(auth)
        lines += ["Content-Length: 0", "", ""]
        return "\r\n".join(lines).encode()

    def register(
        self, user: str, password: str, target: tuple[str, int], contact: str | None = None,
        expires: int = 300, user_agent: str = "test-registrar-client",
    ) -> int:
        """REGISTER `contact` for `user`, answering one digest challenge; return the final code
        (0 if no answer at all)."""
        contact = contact or f"sip:{user}@{self.ip}:{self.port}"
        call_id = secrets.token_hex(8)
        self.send(self._register_msg(user, target, contact, 1, call_id, expires, user_agent=user_agent), target)
        resp = self.recv()
        if resp is None:
            return 0
        code = _status(resp)
        if code not in (401, 407):
            return code
        text = resp.decode(errors="replace")
        hdr = re.search(r"^(WWW|Proxy)-Authenticate:\s*Digest (.*)$", text, re.M | re.I)
        if not hdr:
            return code
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', hdr.group(2)))
        realm, nonce = params["realm"], params["nonce"]
        uri = f"sip:{target[0]}:{target[1]}"
        ha1 = _md5(f"{user}:{realm}:{password}")
        ha2 = _md5(f"REGISTER:{uri}")
        cnonce, nc = secrets.token_hex(4), "00000001"
        if "qop" in params:
            response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            extra = f', qop=auth, nc={nc}, cnonce="{cnonce}"'
        else:
            response = _md5(f"{ha1}:{nonce}:{ha2}")
            extra = ""
        name = "Authorization" if hdr.group(1).upper() == "WWW" else "Proxy-Authorization"
        auth = (
            f'{name}: Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm=MD5{extra}'
        )
        self.send(self._register_msg(user, target, contact, 2, call_id, expires, auth, user_agent), target)
        resp = self.recv()
        return 0 if resp is None else _status(resp)

    def options(self, target: tuple[str, int], user_agent: str = "test-options") -> int:
        """Send OPTIONS to the box; return the status (0 if no answer)."""
        tag = secrets.token_hex(4)
        msg = (
            f"OPTIONS sip:{target[0]}:{target[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {self.ip}:{self.port};rport;branch=z9hG4bK{secrets.token_hex(8)}\r\n"
            f"From: <sip:probe@{self.ip}>;tag={tag}\r\nTo: <sip:{target[0]}:{target[1]}>\r\n"
            f"Call-ID: {secrets.token_hex(8)}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            f"User-Agent: {user_agent}\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        self.send(msg, target)
        resp = self.recv()
        return 0 if resp is None else _status(resp)
