"""Pure USSD coding: GSM-7 packing for modems that want hex strings, +CUSD answer decoding."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from firmware_bridge.at.values import AtValueError, split_args

# 3GPP 23.038 default alphabet (basic table); index = septet value
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[",
                  0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€"}
_EXT_REVERSE = {ch: code for code, ch in GSM7_EXTENSION.items()}
_BASIC_REVERSE = {ch: code for code, ch in enumerate(GSM7_BASIC)}


def gsm7_septets(text: str) -> list[int]:
    """Map text to GSM-7 septets (extension characters take two); raise if impossible."""
    out: list[int] = []
    for ch in text:
        if ch in _BASIC_REVERSE:
            out.append(_BASIC_REVERSE[ch])
        elif ch in _EXT_REVERSE:
            out.extend((0x1B, _EXT_REVERSE[ch]))
        else:
            raise AtValueError(f"{ch!r} has no GSM-7 encoding")
    return out


def pack_septets(septets: list[int]) -> bytes:
    """Pack 7-bit septets into octets (23.038 6.1.2.1.1)."""
    out = bytearray()
    acc = 0
    bits = 0
    for s in septets:
        acc |= (s & 0x7F) << bits
        bits += 7
        while bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits:
        # USSD: a trailing 7-bit gap is filled with CR so it is not read as '@'
        if bits == 1:
            acc |= 0x0D << 1
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes) -> list[int]:
    """Unpack octets into septets; a trailing CR fill is dropped."""
    out: list[int] = []
    acc = 0
    bits = 0
    for octet in data:
        acc |= octet << bits
        bits += 8
        while bits >= 7:
            out.append(acc & 0x7F)
            acc >>= 7
            bits -= 7
    if len(data) % 7 == 0 and out and out[-1] == 0x0D:
        out.pop()
    return out


def septets_to_text(septets: list[int]) -> str:
    """Map GSM-7 septets back to text."""
    chars: list[str] = []
    escape = False
    for s in septets:
        if escape:
            chars.append(GSM7_EXTENSION.get(s, " "))
            escape = False
        elif s == 0x1B:
            escape = True
        else:
            chars.append(GSM7_BASIC[s])
    return "".join(chars)


def encode_request(code: str, *, packed: bool) -> str:
    """Return the string to put in AT+CUSD=1,"<string>",15 for a USSD code like *100#."""
    if packed:
        return pack_septets(gsm7_septets(code)).hex().upper()
    gsm7_septets(code)  # validate
    return code


class UssdStatus(enum.Enum):
    """+CUSD <m>: what the network expects next."""

    DONE = 0
    FURTHER_ACTION = 1
    TERMINATED = 2
    OTHER_CLIENT = 3
    NOT_SUPPORTED = 4
    TIMEOUT = 5


@dataclass(frozen=True)
class UssdAnswer:
    """A decoded USSD answer from the network."""

    status: UssdStatus
    text: str
    dcs: int


def _alphabet(dcs: int) -> str:
    group = dcs >> 4
    if group == 0x0:
        return "gsm7"
    if group == 0x1:
        return "ucs2" if dcs & 0x0F == 1 else "gsm7"
    if group in (0x4, 0x5, 0x6, 0x7, 0x9):
        return {0: "gsm7", 1: "8bit", 2: "ucs2"}.get((dcs >> 2) & 0x3, "gsm7")
    if group == 0xF:
        return "8bit" if dcs & 0x04 else "gsm7"
    return "gsm7"


def decode_cusd(value: str, *, packed: bool) -> UssdAnswer:
    """Decode the value of '+CUSD: <m>[,<str>,<dcs>]' into status and text."""
    args = split_args(value)
    try:
        status = UssdStatus(int(args[0]))
    except ValueError:
        raise AtValueError(f"+CUSD status not understood: {value!r}") from None
    if len(args) < 2:
        return UssdAnswer(status, "", 15)
    raw = args[1]
    dcs = int(args[2]) if len(args) > 2 and args[2] else 15
    alphabet = _alphabet(dcs)
    try:
        if alphabet == "ucs2":
            data = bytes.fromhex(raw)
            if dcs == 0x11:
                data = data[2:]  # language indication in the first character
            text = data.decode("utf-16-be")
        elif alphabet == "8bit":
            text = bytes.fromhex(raw).decode("latin-1")
        elif packed:
            text = septets_to_text(unpack_septets(bytes.fromhex(raw)))
        else:
            text = raw
    except (ValueError, UnicodeDecodeError) as exc:
        raise AtValueError(f"+CUSD string not decodable with dcs {dcs}: {raw!r}") from exc
    return UssdAnswer(status, text, dcs)
