"""Pure AT response parser: bytes in, command responses / URCs / the SMS prompt out.

The parser is told which command is pending (`begin`). Lines that belong to that command
are collected until a final result code; lines that match a URC prefix are emitted as
unsolicited result codes even when they arrive in the middle of a response. Bytes that
are not printable ASCII are dropped, so garbage on the line never reaches the caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# URCs common to 3GPP 27.005/27.007 modems; profiles add their own.
BASE_URCS: tuple[str, ...] = (
    "RING",
    "+CRING:",
    "+CLIP:",
    "+CCWA:",
    "+CMTI:",
    "+CMT:",
    "+CDS:",
    "+CDSI:",
    "+CUSD:",
    "+CREG:",
    "+CGREG:",
    "+CEREG:",
    "+CPIN:",
    "+CLCC:",
    "NO CARRIER",
    "BUSY",
    "NO ANSWER",
)
# URCs followed by a second line that carries the payload (a PDU).
TWO_LINE_URCS: tuple[str, ...] = ("+CMT:", "+CDS:")
# Lines that are URCs even when the pending command has the same prefix (the answer to
# AT+CUSD=1,... arrives after OK on most modules, before it on some).
ALWAYS_URC: tuple[str, ...] = ("+CUSD:",)
# Final result codes of every command.
FINAL_CODES: tuple[str, ...] = ("OK", "ERROR", "+CME ERROR:", "+CMS ERROR:")
# Extra final result codes of call set-up commands (ATD, ATA).
DIAL_FINAL_CODES: tuple[str, ...] = ("NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE", "CONNECT")


@dataclass(frozen=True)
class Response:
    """The complete answer to one command: its information lines and final result code."""

    command: str
    lines: tuple[str, ...]
    final: str

    @property
    def ok(self) -> bool:
        """True when the final result code reports success."""
        return self.final in ("OK", "CONNECT")

    def info(self, prefix: str) -> list[str]:
        """Return the values of information lines starting with `prefix` (e.g. '+CSQ')."""
        head = prefix if prefix.endswith(":") else prefix + ":"
        return [ln[len(head) :].strip() for ln in self.lines if ln.startswith(head)]


@dataclass(frozen=True)
class Urc:
    """An unsolicited result code, with its payload line for two-line URCs (+CMT, +CDS)."""

    line: str
    payload: str | None = None

    @property
    def name(self) -> str:
        """The URC's name: the part before ':' ('+CMTI'), or the whole line ('RING')."""
        head, sep, _ = self.line.partition(":")
        return head.strip() if sep else self.line.strip()

    @property
    def value(self) -> str:
        """The text after the first ':' (empty for bare URCs such as RING)."""
        _, sep, rest = self.line.partition(":")
        return rest.strip() if sep else ""


@dataclass(frozen=True)
class Prompt:
    """The `> ` prompt: the modem waits for the PDU of AT+CMGS."""


@dataclass(frozen=True)
class Noise:
    """Bytes that made no sense (garbage on the line); reported, then forgotten."""

    text: str


Event = Response | Urc | Prompt | Noise


def command_prefix(command: str) -> str:
    """Return the information-line prefix a command answers with ('AT+CSQ' -> '+CSQ:')."""
    body = command.strip()
    if body[:2].upper() == "AT":
        body = body[2:]
    if not body or body[0] not in "+^$#":
        return ""
    end = len(body)
    for i, ch in enumerate(body):
        if ch in "=?":
            end = i
            break
    return body[:end].upper() + ":"


def _is_dial(command: str) -> bool:
    up = command.strip().upper()
    return up.startswith("ATD") or up == "ATA"


@dataclass
class _Pending:
    command: str
    prefix: str
    expects_prompt: bool
    lines: list[str] = field(default_factory=list)


class AtParser:
    """Incremental AT parser; one instance per serial port."""

    def __init__(self, urc_prefixes: Iterable[str] = ()) -> None:
        self._urcs: tuple[str, ...] = tuple(dict.fromkeys((*BASE_URCS, *urc_prefixes)))
        self._buf = bytearray()
        self._pending: _Pending | None = None
        self._echoes: list[str] = []
        self._urc_head: str | None = None

    @property
    def pending(self) -> str | None:
        """The command whose response is being collected, if any."""
        return self._pending.command if self._pending else None

    def begin(self, command: str, *, expects_prompt: bool = False) -> None:
        """Start collecting the response to `command` (just written to the port)."""
        if self._pending is not None:
            raise RuntimeError(f"{self._pending.command!r} is still pending")
        self._pending = _Pending(command.strip(), command_prefix(command), expects_prompt)
        self._echoes = [command.strip().upper()]

    def sent_text(self, text: str) -> None:
        """Remember text written after a prompt so that its echo is not taken as data."""
        self._echoes.append(text.strip().upper())
        if self._pending is not None:
            self._pending.expects_prompt = False

    def cancel(self) -> None:
        """Forget the pending command (it timed out); late lines become noise or URCs."""
        self._pending = None
        self._echoes = []

    def reset(self) -> None:
        """Drop all state (the port was re-opened)."""
        self.cancel()
        self._buf.clear()
        self._urc_head = None

    def feed(self, data: bytes) -> list[Event]:
        """Consume bytes from the port and return the events they complete."""
        self._buf.extend(data)
        events: list[Event] = []
        while True:
            cut = _first_eol(self._buf)
            if cut < 0:
                break
            raw = bytes(self._buf[:cut])
            del self._buf[: cut + 1]
            self._line(raw, events)
        if self._pending is not None and self._pending.expects_prompt:
            rest = _clean(bytes(self._buf)).strip()
            if rest == ">":
                self._buf.clear()
                events.append(Prompt())
        return events

    def _line(self, raw: bytes, events: list[Event]) -> None:
        line = _clean(raw).strip()
        dirty = len(line) != len(raw.strip(b" "))
        if not line:
            if raw.strip():
                events.append(Noise(raw.decode("latin-1")))
            return
        if self._urc_head is not None:
            events.append(Urc(self._urc_head, payload=line))
            self._urc_head = None
            return
        pending = self._pending
        if pending is not None and line.upper() in self._echoes:
            self._echoes.remove(line.upper())
            return
        if pending is not None and self._is_final(line, pending.command):
            events.append(Response(pending.command, tuple(pending.lines), line))
            self._pending = None
            self._echoes = []
            return
        urc = self._match_urc(line)
        own = pending is not None and pending.prefix != "" and line.startswith(pending.prefix)
        if urc is not None and not (own and urc not in ALWAYS_URC):
            if urc in TWO_LINE_URCS:
                self._urc_head = line
            else:
                events.append(Urc(line))
            return
        if pending is not None:
            pending.lines.append(line)
        elif dirty or line in ("OK", "ERROR") or line.startswith(("+CME ERROR", "+CMS ERROR")):
            # a stray final code belongs to a command that already timed out
            events.append(Noise(line))
        else:
            events.append(Urc(line))

    def _match_urc(self, line: str) -> str | None:
        for prefix in self._urcs:
            if line.startswith(prefix):
                return prefix
        return None

    @staticmethod
    def _is_final(line: str, command: str) -> bool:
        if line in ("OK", "ERROR") or line.startswith(("+CME ERROR:", "+CMS ERROR:")):
            return True
        return _is_dial(command) and line.startswith(DIAL_FINAL_CODES)


def _first_eol(buf: bytearray) -> int:
    cr = buf.find(b"\r")
    lf = buf.find(b"\n")
    if cr < 0:
        return lf
    if lf < 0:
        return cr
    return min(cr, lf)


def _clean(raw: bytes) -> str:
    return "".join(chr(b) for b in raw if 0x20 <= b < 0x7F)
