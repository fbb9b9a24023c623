"""TPDU fields: addresses, service-centre time stamps, validity periods (TS 23.040 §9)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from firmware_bridge.sms import gsm7
from firmware_bridge.sms.errors import PduError

TOA_INTERNATIONAL = 0x91
TOA_UNKNOWN = 0x81
TOA_ALPHANUMERIC = 0xD0
TON_INTERNATIONAL = 0b001
TON_ALPHANUMERIC = 0b101

_BCD_DIGITS = "0123456789*#abc"
_SEPARATORS = " -.()"
MAX_ADDRESS_DIGITS = 20


class Reader:
    """A cursor over PDU octets that raises PduError, never IndexError, when data runs out."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self, what: str) -> int:
        """Read one octet."""
        return self.take(1, what)[0]

    def take(self, n: int, what: str) -> bytes:
        """Read n octets."""
        if self.pos + n > len(self.data):
            raise PduError(
                f"truncated PDU: {what} needs {n} octet(s) at offset {self.pos}, "
                f"only {len(self.data) - self.pos} left"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def rest(self) -> bytes:
        """Read everything that is left."""
        chunk = self.data[self.pos :]
        self.pos = len(self.data)
        return chunk

    @property
    def remaining(self) -> int:
        """Octets not yet read."""
        return len(self.data) - self.pos


def _swap_semi_octets(digits: str) -> bytes:
    if len(digits) % 2:
        digits += "F"
    return bytes(int(digits[i + 1] + digits[i], 16) for i in range(0, len(digits), 2))


def normalize_number(number: str) -> tuple[str, int]:
    """Digits and TOA for a phone number: '+' means international, separators dropped."""
    cleaned = "".join(ch for ch in number.strip() if ch not in _SEPARATORS)
    toa = TOA_UNKNOWN
    if cleaned.startswith("+"):
        toa = TOA_INTERNATIONAL
        cleaned = cleaned[1:]
    if not cleaned:
        raise PduError(f"empty phone number {number!r}")
    bad = [ch for ch in cleaned if ch not in "0123456789*#"]
    if bad:
        raise PduError(f"phone number {number!r} has invalid character {bad[0]!r}")
    if len(cleaned) > MAX_ADDRESS_DIGITS:
        raise PduError(f"phone number {number!r} is longer than {MAX_ADDRESS_DIGITS} digits")
    return cleaned, toa


def _bcd_digits(number: str) -> str:
    return number.replace("*", "A").replace("#", "B")


def encode_address(number: str) -> bytes:
    """TP-DA / TP-OA: digit count, type of address, swapped semi-octets."""
    digits, toa = normalize_number(number)
    return bytes((len(digits), toa)) + _swap_semi_octets(_bcd_digits(digits))


def encode_smsc(number: str | None) -> bytes:
    """The SMSC part of a PDU: b'\\x00' (use the SIM's SMSC) or length-in-octets, TOA, digits."""
    if number is None:
        return b"\x00"
    digits, toa = normalize_number(number)
    body = bytes((toa,)) + _swap_semi_octets(_bcd_digits(digits))
    return bytes((len(body),)) + body


def _decode_semi_octets(data: bytes, count: int, what: str) -> str:
    out: list[str] = []
    for octet in data:
        for nibble in (octet & 0x0F, octet >> 4):
            if len(out) == count:
                break
            if nibble == 0x0F:
                raise PduError(f"{what}: filler 0xF inside the digits")
            out.append(_BCD_DIGITS[nibble])
    return "".join(out)


def _format_number(digits: str, toa: int) -> str:
    ton = (toa >> 4) & 0x07
    return "+" + digits if ton == TON_INTERNATIONAL and digits else digits


def decode_address(reader: Reader, what: str) -> tuple[str, int]:
    """Read TP-OA/TP-DA/TP-RA; returns (address, type of address)."""
    length = reader.byte(f"{what} length")
    toa = reader.byte(f"{what} type")
    if length > 20:  # 10 address octets at most (TS 23.040 §9.1.2.5)
        raise PduError(f"{what}: length {length} semi-octets exceeds the 20-digit maximum")
    raw = reader.take((length + 1) // 2, f"{what} digits")
    if (toa >> 4) & 0x07 == TON_ALPHANUMERIC:
        septets = (length * 4) // 7
        return gsm7.unpack_text(raw, septets), toa
    return _format_number(_decode_semi_octets(raw, length, what), toa), toa


def decode_smsc(reader: Reader) -> str | None:
    """Read the leading SMSC information; None when it is absent (length 0)."""
    length = reader.byte("SMSC length")
    if length == 0:
        return None
    if length > 11:
        raise PduError(f"SMSC length {length} octets exceeds the 11-octet maximum")
    toa = reader.byte("SMSC type")
    raw = reader.take(length - 1, "SMSC digits")
    count = 2 * len(raw)
    if raw and raw[-1] >> 4 == 0x0F:
        count -= 1
    digits = _decode_semi_octets(raw, count, "SMSC")
    return _format_number(digits, toa)


def encode_alphanumeric(text: str) -> bytes:
    """An alphanumeric TP-OA (GSM-7 packed, TOA 0xD0), as an SMSC sends a sender name."""
    septets = gsm7.encode(text)
    if len(septets) > 11:
        raise PduError(f"alphanumeric address {text!r} is longer than 11 septets")
    semi_octets = (7 * len(septets) + 3) // 4
    return bytes((semi_octets, TOA_ALPHANUMERIC)) + gsm7.pack(septets)


def _bcd_pair(octet: int, what: str) -> int:
    lo, hi = octet & 0x0F, octet >> 4
    if lo > 9 or hi > 9:
        raise PduError(f"{what}: octet {octet:02X} is not two decimal digits")
    return lo * 10 + hi


def _century(two_digit_year: int) -> int:
    # Two-digit years: 80..99 are 1980..1999 (SMS is younger), 00..79 are 2000..2079.
    return 1900 if two_digit_year >= 80 else 2000


def decode_timestamp(raw: bytes, what: str) -> datetime:
    """TP-SCTS/TP-DT: seven swapped-BCD octets, the last the zone in signed quarter hours."""
    if len(raw) != 7:
        raise PduError(f"{what}: needs 7 octets, got {len(raw)}")
    year, month, day, hour, minute, second = (_bcd_pair(o, what) for o in raw[:6])
    tz = raw[6]
    negative = bool(tz & 0x08)
    quarters = _bcd_pair(tz & 0xF7, what)  # at most 79: the tens digit has 3 bits
    offset = timedelta(minutes=15 * quarters)
    try:
        return datetime(
            _century(year) + year, month, day, hour, minute, second,
            tzinfo=timezone(-offset if negative else offset),
        )
    except ValueError as exc:
        raise PduError(f"{what}: invalid date/time ({exc})") from None


def encode_timestamp(when: datetime) -> bytes:
    """Seven-octet time stamp for an aware datetime in 1980..2079."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise PduError("time stamp must be timezone-aware")
    if not 1980 <= when.year <= 2079:
        raise PduError(f"time stamp year {when.year} is outside 1980..2079")
    offset = when.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    if minutes % 15:
        raise PduError(f"time zone offset {offset} is not a whole number of quarter hours")
    quarters = abs(minutes) // 15
    if quarters > 79:
        raise PduError(f"time zone offset {offset} exceeds the 19:45 a time stamp can hold")
    fields = [when.year % 100, when.month, when.day, when.hour, when.minute, when.second]
    out = bytes((v % 10) << 4 | v // 10 for v in fields)
    tz = (quarters % 10) << 4 | quarters // 10 | (0x08 if minutes < 0 else 0)
    return out + bytes((tz,))


def relative_validity_minutes(vp: int) -> int:
    """Minutes a relative TP-VP octet stands for (TS 23.040 §9.2.3.12.1)."""
    if vp <= 143:
        return (vp + 1) * 5
    if vp <= 167:
        return 12 * 60 + (vp - 143) * 30
    if vp <= 196:
        return (vp - 166) * 24 * 60
    return (vp - 192) * 7 * 24 * 60


MAX_VALIDITY_MINUTES = relative_validity_minutes(255)


def relative_validity(minutes: int) -> int:
    """The smallest relative TP-VP octet that lasts at least the given minutes."""
    if minutes <= 0:
        raise PduError(f"validity must be at least 1 minute, got {minutes}")
    if minutes > MAX_VALIDITY_MINUTES:
        raise PduError(
            f"validity {minutes} minutes exceeds the maximum {MAX_VALIDITY_MINUTES} (63 weeks)"
        )
    for vp in range(256):  # 256 cheap steps; clearer than inverting four formulas
        if relative_validity_minutes(vp) >= minutes:
            return vp
    raise AssertionError("unreachable")

