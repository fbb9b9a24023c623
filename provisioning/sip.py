"""A small, forgiving SIP message parser and builder for PnP and check-sync. Pure."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import unquote

MAX_DATAGRAM = 65507

_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
            "l": "content-length", "c": "content-type", "o": "event"}


class SipParseError(ValueError):
    """The datagram is not a SIP message we can understand."""


@dataclass(frozen=True)
class SipMessage:
    """A parsed request or response; header names are lower-case, values in order."""

    start_line: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        """True for requests, False for responses."""
        return not self.start_line.startswith("SIP/2.0 ")

    @property
    def method(self) -> str:
        """The request method (empty for a response)."""
        return self.start_line.split(" ", 1)[0] if self.is_request else ""

    @property
    def request_uri(self) -> str:
        """The Request-URI (empty for a response)."""
        return self.start_line.split(" ")[1] if self.is_request else ""

    @property
    def status(self) -> int:
        """The status code of a response (0 for a request)."""
        return 0 if self.is_request else int(self.start_line.split(" ")[1])

    def header(self, name: str) -> str | None:
        """The first value of a header, or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def all(self, name: str) -> list[str]:
        """Every value of a header, in order."""
        name = name.lower()
        return [value for key, value in self.headers if key == name]


_REQUEST_LINE = re.compile(r"^([A-Z]+) (\S+) SIP/2\.0$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d) ?(.*)$")


def parse(data: bytes) -> SipMessage:
    """Parse one SIP datagram; raises SipParseError on anything malformed."""
    if len(data) > MAX_DATAGRAM:
        raise SipParseError("datagram too large")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("headers are not UTF-8") from exc
    lines = re.split(r"\r?\n", text)
    start = lines[0].strip()
    if not (_REQUEST_LINE.match(start) or _STATUS_LINE.match(start)):
        raise SipParseError(f"bad start line {start[:60]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            if not headers:
                raise SipParseError("continuation line before any header")
            key, value = headers[-1]
            headers[-1] = (key, value + " " + line.strip())
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name or not re.fullmatch(r"[a-z0-9\-_.!%*+`'~]+", name):
            raise SipParseError(f"bad header line {line[:60]!r}")
        headers.append((_COMPACT.get(name, name), value.strip()))
    msg = SipMessage(start, headers, body)
    for required in ("via", "from", "to", "call-id", "cseq"):
        if msg.header(required) is None:
            raise SipParseError(f"missing {required} header")
    length = msg.header("content-length")
    if length is not None:
        if not length.isdigit() or int(length) > len(body):
            raise SipParseError("bad content-length")
        msg = SipMessage(start, headers, body[: int(length)])
    return msg


_URI_USER = re.compile(r"<?\s*sips?:([^@;>\s]+)@", re.I)


def uri_user(value: str) -> str | None:
    """The user part of the first SIP URI in a header value (percent-decoded), or None."""
    m = _URI_USER.search(value)
    return unquote(m.group(1)) if m else None


def header_params(value: str) -> dict[str, str]:
    """The ';name=value' parameters of a header value, names lower-cased, quotes removed."""
    params: dict[str, str] = {}
    for part in value.split(";")[1:]:
        name, _, val = part.partition("=")
        params[name.strip().lower()] = val.strip().strip('"')
    return params


def new_tag() -> str:
    """A random From/To tag."""
    return secrets.token_hex(6)


def new_branch() -> str:
    """A random RFC 3261 Via branch."""
    return "z9hG4bK" + secrets.token_hex(8)


def build(start_line: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    """Serialise a SIP message, adding Content-Length."""
    lines = [start_line]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def response(request: SipMessage, status: int, reason: str, to_tag: str,
             extra: list[tuple[str, str]] | None = None) -> bytes:
    """A response to `request` that copies Via, From, Call-ID and CSeq and tags To."""
    to = request.header("to") or ""
    if ";tag=" not in to.lower():
        to = f"{to};tag={to_tag}"
    headers = [("Via", v) for v in request.all("via")]
    headers += [("From", request.header("from") or ""), ("To", to),
                ("Call-ID", request.header("call-id") or ""),
                ("CSeq", request.header("cseq") or "")]
    headers += extra or []
    return build(f"SIP/2.0 {status} {reason}", headers)
