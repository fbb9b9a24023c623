"""The media-worker RPC: JSON lines between a worker and the controller (pure, no I/O).

Controller -> worker: `{"type":"cmd","req":N,"cmd":NAME,...}`, parsed into frozen command
dataclasses by `parse_command`. Worker -> controller: `hello`, `event` and `result`
messages built by the `*_message` helpers. See docs/media-rpc.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

PROTOCOL_VERSION = 1
MAX_LINE_BYTES = 64 * 1024
MAX_TONE_MS = 32_767  # pjmedia_tone_desc on/off are signed 16-bit
MAX_LOCAL_TARGETS = 256
_USER_RE = re.compile(r"[0-9A-Za-z*#+._-]{1,32}")

EVENT_NAMES = frozenset(
    {
        "leg_new",
        "leg_ringing",
        "leg_answered",
        "dtmf",
        "leg_ended",
        "playback_done",
        "recording_closed",
        "leg_transfer",
    }
)


class ProtocolError(ValueError):
    """A message that does not follow the protocol; the text says what is wrong."""

    def __init__(self, message: str, req: int | None = None) -> None:
        super().__init__(message)
        self.req = req


@dataclass(frozen=True)
class Answer:
    """Answer an incoming leg with 180, 183 (early media) or 200."""

    leg: str
    code: int = 200


@dataclass(frozen=True)
class Hangup:
    """End a leg: reject with `code` if unanswered, CANCEL if dialling, BYE if answered."""

    leg: str
    code: int = 603


@dataclass(frozen=True)
class Dial:
    """Place an outgoing call to `uri`."""

    uri: str
    from_uri: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float | None = None


@dataclass(frozen=True)
class Bridge:
    """Connect two legs' audio both ways on the conference bridge."""

    a: str
    b: str


@dataclass(frozen=True)
class Unbridge:
    """Disconnect two legs' audio both ways."""

    a: str
    b: str


@dataclass(frozen=True)
class Connect:
    """Send `src`'s audio to `dst` only (one way): listen, whisper and barge are made of these."""

    src: str
    dst: str


@dataclass(frozen=True)
class Disconnect:
    """Stop sending `src`'s audio to `dst` (only a pair that was connected)."""

    src: str
    dst: str


@dataclass(frozen=True)
class Echo:
    """Send a leg's own audio back to it."""

    leg: str


@dataclass(frozen=True)
class Play:
    """Play a 16-bit mono PCM WAV file into a leg."""

    leg: str
    file: str
    loop: bool = False


@dataclass(frozen=True)
class StopPlay:
    """Stop a player or tone started by `play` or `tone`."""

    player: str


@dataclass(frozen=True)
class Tone:
    """Play a (dual) tone cadence into a leg, e.g. ringback 425 Hz 1000/4000 ms."""

    leg: str
    freq1: int
    on_ms: int
    off_ms: int
    freq2: int = 0
    loop: bool = True


@dataclass(frozen=True)
class Record:
    """Record each leg's incoming audio to `<path_base>-<i>.wav`, one file per leg."""

    legs: tuple[str, ...]
    path_base: str


@dataclass(frozen=True)
class StopRecord:
    """Stop a recording and close its files."""

    recording: str


@dataclass(frozen=True)
class LocalTargets:
    """Numbers the box serves itself (park slots): a REFER to one of them is reported 200 to
    the transferer at once (NOTIFY sipfrag), because the worker's own INVITE cannot reach it."""

    users: tuple[str, ...]


@dataclass(frozen=True)
class Status:
    """Report legs in use and capacity."""


@dataclass(frozen=True)
class Shutdown:
    """Hang up everything and exit cleanly."""


Command = (
    Answer
    | Hangup
    | Dial
    | Bridge
    | Unbridge
    | Connect
    | Disconnect
    | Echo
    | Play
    | StopPlay
    | Tone
    | Record
    | StopRecord
    | LocalTargets
    | Status
    | Shutdown
)


@dataclass(frozen=True)
class Request:
    """One command with its request number, to be answered by a `result` message."""

    req: int
    cmd: Command


def _str(obj: dict[str, Any], key: str, req: int, default: str | None = None) -> str:
    value = obj.get(key, default)
    if value is None:
        raise ProtocolError(f"missing field '{key}'", req)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"field '{key}' must be a non-empty string", req)
    return value


def _opt_str(obj: dict[str, Any], key: str, req: int) -> str | None:
    if obj.get(key) is None:
        return None
    return _str(obj, key, req)


def _int(
    obj: dict[str, Any], key: str, req: int, default: int | None, lo: int, hi: int
) -> int:
    value = obj.get(key, default)
    if value is None:
        raise ProtocolError(f"missing field '{key}'", req)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"field '{key}' must be an integer", req)
    if not lo <= value <= hi:
        raise ProtocolError(f"field '{key}' must be between {lo} and {hi}, got {value}", req)
    return value


def _bool(obj: dict[str, Any], key: str, req: int, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise ProtocolError(f"field '{key}' must be true or false", req)
    return value


def _sip_uri(obj: dict[str, Any], key: str, req: int, required: bool) -> str | None:
    value = _str(obj, key, req) if required else _opt_str(obj, key, req)
    if value is not None:
        bare = value.split("<", 1)[-1] if "<" in value else value
        if not bare.startswith(("sip:", "sips:")):
            raise ProtocolError(f"field '{key}' must be a sip: URI, got {value!r}", req)
        if any(c in value for c in "\r\n"):
            raise ProtocolError(f"field '{key}' must not contain line breaks", req)
    return value


def _headers(obj: dict[str, Any], req: int) -> dict[str, str]:
    value = obj.get("headers") or {}
    if not isinstance(value, dict):
        raise ProtocolError("field 'headers' must be an object of name: value", req)
    out: dict[str, str] = {}
    for name, val in value.items():
        ok_name = name and all(c.isalnum() or c in "-_." for c in name)
        if not ok_name or not isinstance(val, str) or any(c in val for c in "\r\n"):
            raise ProtocolError(f"header {name!r} is not a valid SIP header", req)
        out[name] = val
    return out


def _timeout(obj: dict[str, Any], req: int) -> float | None:
    value = obj.get("timeout_s")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise ProtocolError("field 'timeout_s' must be a number of seconds in (0, 3600]", req)
    return float(value)


def _legs(obj: dict[str, Any], req: int) -> tuple[str, ...]:
    value = obj.get("legs")
    if not isinstance(value, list) or not value:
        raise ProtocolError("field 'legs' must be a non-empty list of leg ids", req)
    if not all(isinstance(v, str) and v for v in value):
        raise ProtocolError("field 'legs' must hold leg id strings", req)
    if len(set(value)) != len(value):
        raise ProtocolError("field 'legs' must not repeat a leg", req)
    return tuple(value)


def _users(obj: dict[str, Any], req: int) -> tuple[str, ...]:
    value = obj.get("users")
    if not isinstance(value, list) or len(value) > MAX_LOCAL_TARGETS:
        raise ProtocolError(f"field 'users' must be a list of at most {MAX_LOCAL_TARGETS} numbers", req)
    if not all(isinstance(v, str) and _USER_RE.fullmatch(v) for v in value):
        raise ProtocolError("field 'users' must hold SIP user parts (digits, letters, * # + . _ -)", req)
    return tuple(value)


def _build(name: str, o: dict[str, Any], req: int) -> Command:
    if name == "answer":
        code = _int(o, "code", req, 200, 180, 200)
        if code not in (180, 183, 200):
            raise ProtocolError("field 'code' must be 180, 183 or 200", req)
        return Answer(_str(o, "leg", req), code)
    if name == "hangup":
        return Hangup(_str(o, "leg", req), _int(o, "code", req, 603, 400, 699))
    if name == "dial":
        uri = _sip_uri(o, "uri", req, required=True)
        assert uri is not None
        return Dial(uri, _sip_uri(o, "from_uri", req, False), _headers(o, req), _timeout(o, req))
    if name in ("bridge", "unbridge"):
        a, b = _str(o, "a", req), _str(o, "b", req)
        if a == b:
            raise ProtocolError("cannot bridge a leg with itself (use 'echo')", req)
        return Bridge(a, b) if name == "bridge" else Unbridge(a, b)
    if name in ("connect", "disconnect"):
        src, dst = _str(o, "src", req), _str(o, "dst", req)
        if src == dst:
            raise ProtocolError("cannot connect a leg to itself (use 'echo')", req)
        return Connect(src, dst) if name == "connect" else Disconnect(src, dst)
    if name == "echo":
        return Echo(_str(o, "leg", req))
    if name == "play":
        return Play(_str(o, "leg", req), _str(o, "file", req), _bool(o, "loop", req, False))
    if name == "stop_play":
        return StopPlay(_str(o, "player", req))
    if name == "tone":
        return Tone(
            leg=_str(o, "leg", req),
            freq1=_int(o, "freq1", req, None, 1, 3999),
            on_ms=_int(o, "on_ms", req, None, 1, MAX_TONE_MS),
            off_ms=_int(o, "off_ms", req, None, 0, MAX_TONE_MS),
            freq2=_int(o, "freq2", req, 0, 0, 3999),
            loop=_bool(o, "loop", req, True),
        )
    if name == "record":
        return Record(_legs(o, req), _str(o, "path_base", req))
    if name == "stop_record":
        return StopRecord(_str(o, "recording", req))
    if name == "local_targets":
        return LocalTargets(_users(o, req))
    if name == "status":
        return Status()
    if name == "shutdown":
        return Shutdown()
    raise ProtocolError(f"unknown command {name!r}", req)


def parse_command(line: str | bytes) -> Request:
    """Parse one JSON line from the controller; raise ProtocolError with a clear reason."""
    if len(line) > MAX_LINE_BYTES:
        raise ProtocolError(f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("a message must be a JSON object")
    raw_req = obj.get("req")
    if isinstance(raw_req, bool) or not isinstance(raw_req, int):
        raise ProtocolError("missing or non-integer 'req'")
    if obj.get("type") != "cmd":
        raise ProtocolError("'type' must be 'cmd'", raw_req)
    name = obj.get("cmd")
    if not isinstance(name, str):
        raise ProtocolError("missing 'cmd'", raw_req)
    return Request(raw_req, _build(name, obj, raw_req))


def _line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def hello_message(worker: str, pid: int, sip: str, capacity: int, pjsip: str) -> bytes:
    """The first line a worker sends, after its capacity probe."""
    return _line(
        {
            "type": "hello",
            "worker": worker,
            "pid": pid,
            "sip": sip,
            "capacity": capacity,
            "pjsip": pjsip,
            "protocol": PROTOCOL_VERSION,
        }
    )


def event_message(name: str, **fields: Any) -> bytes:
    """An event line; `name` must be one of EVENT_NAMES."""
    if name not in EVENT_NAMES:
        raise ValueError(f"unknown event {name!r}")
    return _line({"type": "event", "event": name, **fields})


def split_refer_target(uri: str) -> tuple[str, str | None]:
    """Split a Refer-To URI into (target without headers, decoded Replaces value or None)."""
    bare = uri.strip()
    if bare.startswith("<") and ">" in bare:
        bare = bare[1 : bare.index(">")]
    target, _, query = bare.partition("?")
    replaces = None
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        if name.lower() == "replaces":
            replaces = unquote(value)
    return target, replaces


def result_ok(req: int, data: dict[str, Any] | None = None) -> bytes:
    """A successful reply to request `req`."""
    return _line({"type": "result", "req": req, "ok": True, "data": data or {}})


def result_error(req: int | None, error: str) -> bytes:
    """A failed reply to request `req` (None when the request number was unreadable)."""
    return _line({"type": "result", "req": req, "ok": False, "error": error})


class LineBuffer:
    """Split a byte stream into lines; an over-long line is reported, then skipped."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_line
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes | ProtocolError]:
        """Add bytes; return complete lines (without newline) and errors in order."""
        out: list[bytes | ProtocolError] = []
        self._buf += data
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > self._max and not self._discarding:
                    out.append(ProtocolError(f"line longer than {self._max} bytes"))
                    self._discarding = True
                if self._discarding:
                    self._buf.clear()
                return out
            line = bytes(self._buf[:nl]).rstrip(b"\r")
            del self._buf[: nl + 1]
            if self._discarding:
                self._discarding = False
                continue
            if line.strip():
                out.append(line)
