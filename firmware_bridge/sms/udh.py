"""User data header (TS 23.040 §9.2.3.24): concatenation information elements."""

from __future__ import annotations

from firmware_bridge.sms.errors import PduError
from firmware_bridge.sms.messages import Concat

IEI_CONCAT_8BIT = 0x00
IEI_CONCAT_16BIT = 0x08


def build_concat(concat: Concat) -> bytes:
    """A UDH (with its UDHL octet) that carries one concatenation element."""
    if not 1 <= concat.seq <= concat.total <= 255:
        raise PduError(
            f"bad part numbering {concat.seq}/{concat.total} (need 1 <= seq <= total <= 255)"
        )
    if concat.ref_bits == 8:
        if not 0 <= concat.ref <= 0xFF:
            raise PduError(f"8-bit concatenation reference {concat.ref} is outside 0..255")
        return bytes((5, IEI_CONCAT_8BIT, 3, concat.ref, concat.total, concat.seq))
    if concat.ref_bits == 16:
        if not 0 <= concat.ref <= 0xFFFF:
            raise PduError(f"16-bit concatenation reference {concat.ref} is outside 0..65535")
        return bytes(
            (6, IEI_CONCAT_16BIT, 4, concat.ref >> 8, concat.ref & 0xFF, concat.total, concat.seq)
        )
    raise PduError(f"concatenation reference must be 8 or 16 bits, got {concat.ref_bits}")


def information_elements(udh: bytes) -> list[tuple[int, bytes]]:
    """Split a UDH body (without its UDHL octet) into (IEI, data) pairs."""
    elements: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(udh):
        if pos + 2 > len(udh):
            raise PduError(f"bad UDH: information element at offset {pos} has no length octet")
        iei, length = udh[pos], udh[pos + 1]
        if pos + 2 + length > len(udh):
            raise PduError(
                f"bad UDH length: element {iei:#04x} claims {length} octets, "
                f"only {len(udh) - pos - 2} left in the header"
            )
        elements.append((iei, udh[pos + 2 : pos + 2 + length]))
        pos += 2 + length
    return elements


def parse_concat(udh: bytes) -> Concat | None:
    """The concatenation element of a UDH body, if there is a usable one.

    A reference with total 0, seq 0 or seq > total is ignored, as TS 23.040 §9.2.3.24.1
    tells the receiver to do; the part is then handled as a message on its own.
    """
    found: Concat | None = None
    for iei, data in information_elements(udh):
        if iei == IEI_CONCAT_8BIT:
            if len(data) != 3:
                raise PduError(
                    f"bad UDH length: 8-bit concatenation element has {len(data)} octets, not 3"
                )
            ref, total, seq, bits = data[0], data[1], data[2], 8
        elif iei == IEI_CONCAT_16BIT:
            if len(data) != 4:
                raise PduError(
                    f"bad UDH length: 16-bit concatenation element has {len(data)} octets, not 4"
                )
            ref, total, seq, bits = data[0] << 8 | data[1], data[2], data[3], 16
        else:
            continue
        if 1 <= seq <= total:
            found = Concat(ref=ref, total=total, seq=seq, ref_bits=bits)
    return found
