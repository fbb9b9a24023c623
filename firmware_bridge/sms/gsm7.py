"""GSM 03.38 (3GPP TS 23.038) default alphabet, extension table and septet packing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from firmware_bridge.sms.errors import PduError

ESC = 0x1B
CR = 0x0D

# TS 23.038 §6.2.1: the default alphabet, indexed by septet value. 0x1B is the escape
# to the extension table; it is never a character on its own.
DEFAULT_ALPHABET: str = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# TS 23.038 §6.2.1.1: the extension table, reached by ESC followed by these septets.
EXTENSION_TABLE: dict[int, str] = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_DEFAULT_CODE: dict[str, int] = {
    ch: code for code, ch in enumerate(DEFAULT_ALPHABET) if code != ESC
}
_EXTENSION_CODE: dict[str, int] = {ch: code for code, ch in EXTENSION_TABLE.items()}

assert len(DEFAULT_ALPHABET) == 128


def char_septets(ch: str) -> int:
    """Septets one character takes in GSM-7 (1, or 2 via ESC); 0 if it does not fit."""
    if ch in _DEFAULT_CODE:
        return 1
    if ch in _EXTENSION_CODE:
        return 2
    return 0


def fits_gsm7(text: str) -> bool:
    """True when every character is in the default alphabet or the extension table."""
    return all(ch in _DEFAULT_CODE or ch in _EXTENSION_CODE for ch in text)


def septet_length(text: str) -> int:
    """Septets the text takes in GSM-7, counting ESC for extension characters."""
    total = 0
    for ch in text:
        n = char_septets(ch)
        if n == 0:
            raise PduError(f"character {ch!r} (U+{ord(ch):04X}) is not in the GSM-7 alphabet")
        total += n
    return total


def encode(text: str) -> list[int]:
    """Text to GSM-7 septet values (extension characters become ESC + code)."""
    septets: list[int] = []
    for ch in text:
        code = _DEFAULT_CODE.get(ch)
        if code is not None:
            septets.append(code)
            continue
        ext = _EXTENSION_CODE.get(ch)
        if ext is None:
            raise PduError(f"character {ch!r} (U+{ord(ch):04X}) is not in the GSM-7 alphabet")
        septets.extend((ESC, ext))
    return septets


def decode(septets: Iterable[int]) -> str:
    """GSM-7 septet values to text, following TS 23.038 for unknown escapes.

    ESC followed by a code the extension table lacks shows the default-alphabet character
    of that code; ESC ESC and a dangling ESC at the end show as a space (§6.2.1.1 note).
    """
    out: list[str] = []
    escaped = False
    for s in septets:
        if not 0 <= s <= 0x7F:
            raise PduError(f"invalid septet value {s} (must be 0..127)")
        if escaped:
            escaped = False
            if s == ESC:
                out.append(" ")
            else:
                out.append(EXTENSION_TABLE.get(s, DEFAULT_ALPHABET[s]))
        elif s == ESC:
            escaped = True
        else:
            out.append(DEFAULT_ALPHABET[s])
    if escaped:
        out.append(" ")
    return "".join(out)


def packed_length(septet_count: int, fill_bits: int = 0) -> int:
    """Octets that fill_bits plus septet_count septets occupy when packed."""
    return (fill_bits + 7 * septet_count + 7) // 8


def pack(septets: Sequence[int], fill_bits: int = 0) -> bytes:
    """Pack septets LSB-first into octets, after fill_bits zero bits (TS 23.038 §6.1.2.1)."""
    if not 0 <= fill_bits <= 6:
        raise PduError(f"fill bits must be 0..6, got {fill_bits}")
    acc = 0
    for i, s in enumerate(septets):
        if not 0 <= s <= 0x7F:
            raise PduError(f"invalid septet value {s} (must be 0..127)")
        acc |= s << (fill_bits + 7 * i)
    return acc.to_bytes(packed_length(len(septets), fill_bits), "little")


def unpack(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """Unpack count septets from octets packed LSB-first, skipping fill_bits leading bits."""
    if not 0 <= fill_bits <= 6:
        raise PduError(f"fill bits must be 0..6, got {fill_bits}")
    if count < 0:
        raise PduError(f"septet count must not be negative, got {count}")
    need = packed_length(count, fill_bits)
    if len(data) < need:
        raise PduError(f"truncated GSM-7 data: {count} septets need {need} octets, got {len(data)}")
    acc = int.from_bytes(data[:need], "little") >> fill_bits
    return [(acc >> (7 * i)) & 0x7F for i in range(count)]


def pack_text(text: str, fill_bits: int = 0) -> bytes:
    """Encode text to GSM-7 and pack it."""
    return pack(encode(text), fill_bits)


def unpack_text(data: bytes, count: int, fill_bits: int = 0) -> str:
    """Unpack count septets and decode them to text."""
    return decode(unpack(data, count, fill_bits))
