"""USSD strings for AT+CUSD: encode a request, decode a +CUSD answer (TS 23.038 §5, §6.1.2.3)."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from firmware_bridge.sms import gsm7
from firmware_bridge.sms.errors import PduError

DCS_GSM7 = 0x0F  # language unspecified, GSM-7: what every network accepts for requests
MAX_SEPTETS = 182  # 160 octets of packed GSM-7
_HEX = frozenset(string.hexdigits)
_CUSD = re.compile(r'^\+CUSD:\s*(\d+)\s*(?:,\s*"(.*)"\s*(?:,\s*(\d+))?)?\s*$', re.DOTALL)

STATUS_DONE = 0  # no further user action required
STATUS_ACTION = 1  # the network waits for an answer (a menu)
STATUS_TERMINATED = 2  # the network ended the session
STATUS_OTHER_CLIENT = 3
STATUS_NOT_SUPPORTED = 4
STATUS_TIMEOUT = 5


@dataclass(frozen=True)
class UssdReply:
    """A decoded +CUSD line: status, the text (None when the network sent none), DCS."""

    status: int
    text: str | None
    dcs: int | None

    @property
    def expects_answer(self) -> bool:
        """True when the network keeps the session open for the user's choice."""
        return self.status == STATUS_ACTION


def pack_ussd(text: str) -> bytes:
    """GSM-7 pack a USSD string, padding 7 spare bits with CR as TS 23.038 §6.1.2.3.1 says."""
    septets = gsm7.encode(text)
    if len(septets) % 8 == 7 or (len(septets) % 8 == 0 and septets and septets[-1] == gsm7.CR):
        septets.append(gsm7.CR)
    return gsm7.pack(septets)


def unpack_ussd(data: bytes) -> str:
    """Unpack GSM-7 USSD octets (no length given), dropping the CR filler if present."""
    count = len(data) * 8 // 7
    septets = gsm7.unpack(data, count)
    if (len(data) * 8) % 7 == 0 and septets and septets[-1] == gsm7.CR:
        septets.pop()
    return gsm7.decode(septets)


def encode_ussd(text: str, *, packed: bool = True) -> str:
    """The string to put in AT+CUSD: packed GSM-7 hex, or the text as is for modems in text mode."""
    if not text:
        raise PduError("empty USSD string")
    length = gsm7.septet_length(text)  # raises for characters outside GSM-7
    if length > MAX_SEPTETS:
        raise PduError(f"USSD string takes {length} septets; at most {MAX_SEPTETS} fit")
    if packed:
        return pack_ussd(text).hex().upper()
    if '"' in text:
        raise PduError("a double quote cannot be sent inside AT+CUSD in text mode")
    return text


def cusd_command(text: str, *, packed: bool = True) -> str:
    """The full AT+CUSD command line (result codes on, DCS 15)."""
    return f'AT+CUSD=1,"{encode_ussd(text, packed=packed)}",{DCS_GSM7}'


def _alphabet(dcs: int) -> str:
    """'gsm7', 'gsm7-lang', 'ucs2', 'ucs2-lang' or '8bit' for a CBS/USSD DCS (TS 23.038 §5)."""
    group, low = dcs >> 4, dcs & 0x0F
    if group == 0x1:
        return {0: "gsm7-lang", 1: "ucs2-lang"}.get(low, "gsm7")
    if 0x4 <= group <= 0x7:
        if dcs & 0x20:
            raise PduError(f"USSD DCS {dcs:#04x}: compressed text is not supported")
        return ("gsm7", "8bit", "ucs2", "gsm7")[(dcs >> 2) & 3]
    if group == 0x9:
        raise PduError(f"USSD DCS {dcs:#04x}: messages with a user data header are not supported")
    if group == 0xF:
        return "8bit" if dcs & 0x04 else "gsm7"
    return "gsm7"  # language groups and reserved values: GSM-7 (§5)


def _is_hex(payload: str) -> bool:
    return bool(payload) and len(payload) % 2 == 0 and all(ch in _HEX for ch in payload)


def decode_payload(payload: str, dcs: int, *, hex_payload: bool | None = None) -> str:
    """Text of a +CUSD string given its DCS.

    hex_payload says whether the modem sends hex (packed GSM-7 or UCS-2 octets); None
    guesses: even-length all-hex strings are hex. A plain reply that happens to be all hex
    digits (like "1234") is then misread, so an AT engine that knows its modem's mode
    passes it explicitly.
    """
    alphabet = _alphabet(dcs)
    is_hex = _is_hex(payload) if hex_payload is None else hex_payload
    if not is_hex:
        return payload
    if not _is_hex(payload):
        raise PduError(f"USSD payload {payload[:40]!r} is not even-length hex")
    data = bytes.fromhex(payload)
    if alphabet == "ucs2-lang":
        data = data[2:]  # two GSM-7 language characters packed into two octets
    if alphabet in ("ucs2", "ucs2-lang"):
        if len(data) % 2:
            raise PduError(f"UCS-2 USSD payload has an odd number of octets ({len(data)})")
        return data.decode("utf-16-be", errors="replace")
    if alphabet == "8bit":
        return data.decode("latin-1")
    text = unpack_ussd(data)
    if alphabet == "gsm7-lang":
        text = text[3:]  # two language characters and a CR precede the message
    return text


def decode_cusd(line: str, *, hex_payload: bool | None = None) -> UssdReply:
    """Parse a '+CUSD: <m>[,"<str>"[,<dcs>]]' line from the modem."""
    match = _CUSD.match(line.strip())
    if match is None:
        raise PduError(f"not a +CUSD line: {line[:60]!r}")
    status = int(match.group(1))
    payload, dcs_text = match.group(2), match.group(3)
    dcs = int(dcs_text) if dcs_text is not None else None
    if dcs is not None and dcs > 0xFF:
        raise PduError(f"USSD DCS {dcs} is out of range 0..255")
    if payload is None:
        return UssdReply(status=status, text=None, dcs=dcs)
    text = decode_payload(payload, DCS_GSM7 if dcs is None else dcs, hex_payload=hex_payload)
    return UssdReply(status=status, text=text, dcs=dcs)
