"""Pure decoders for the values inside AT information lines (+CSQ, +CREG, +COPS, ...)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class AtValueError(ValueError):
    """An information line did not have the documented shape."""


def split_args(text: str) -> list[str]:
    """Split a comma-separated AT value list, honouring double quotes (quotes removed)."""
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if quoted:
        raise AtValueError(f"unbalanced quotes in {text!r}")
    out.append("".join(cur).strip())
    return out


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise AtValueError(f"{what}: {value!r} is not a number") from None


@dataclass(frozen=True)
class Signal:
    """Signal quality: +CSQ rssi (0-31, 99 unknown) as dBm, plus LTE detail from +QCSQ."""

    rssi_dbm: int | None
    ber: int | None
    rat: str | None = None
    rsrp_dbm: int | None = None
    sinr_db: int | None = None
    rsrq_db: int | None = None

    @property
    def bars(self) -> int:
        """0-5 bars, the way a phone shows them."""
        if self.rssi_dbm is None:
            return 0
        for bars, floor in ((5, -67), (4, -77), (3, -87), (2, -97), (1, -107)):
            if self.rssi_dbm >= floor:
                return bars
        return 0


def parse_csq(value: str) -> Signal:
    """Decode '+CSQ: <rssi>,<ber>' (value part)."""
    args = split_args(value)
    if len(args) != 2:
        raise AtValueError(f"+CSQ: expected 2 values, got {value!r}")
    rssi = _int(args[0], "+CSQ rssi")
    ber = _int(args[1], "+CSQ ber")
    if not (0 <= rssi <= 31 or rssi == 99):
        raise AtValueError(f"+CSQ rssi out of range: {rssi}")
    return Signal(
        rssi_dbm=None if rssi == 99 else -113 + 2 * rssi,
        ber=None if ber == 99 else ber,
    )


def parse_qcsq(value: str, base: Signal) -> Signal:
    """Add Quectel '+QCSQ: "LTE",<rssi>,<rsrp>,<sinr>,<rsrq>' detail to a +CSQ reading."""
    args = split_args(value)
    rat = args[0]
    if rat == "LTE" and len(args) >= 5:
        sinr_raw = _int(args[3], "+QCSQ sinr")
        return Signal(
            rssi_dbm=_int(args[1], "+QCSQ rssi"),
            ber=base.ber,
            rat=rat,
            rsrp_dbm=_int(args[2], "+QCSQ rsrp"),
            sinr_db=sinr_raw // 5 - 20,
            rsrq_db=_int(args[4], "+QCSQ rsrq"),
        )
    return Signal(base.rssi_dbm, base.ber, rat=rat if rat != "NOSERVICE" else None)


class Registration(enum.Enum):
    """Network registration state (+CREG/+CGREG/+CEREG <stat>)."""

    NOT_REGISTERED = 0
    HOME = 1
    SEARCHING = 2
    DENIED = 3
    UNKNOWN = 4
    ROAMING = 5

    @property
    def registered(self) -> bool:
        """True when the modem can place calls and send SMS."""
        return self in (Registration.HOME, Registration.ROAMING)


def parse_creg(value: str, *, unsolicited: bool = False) -> Registration:
    """Decode the value of '+CREG: <n>,<stat>[,...]' (answer) or '+CREG: <stat>[,...]' (URC)."""
    args = split_args(value)
    if unsolicited:
        stat = args[0]
    else:
        if len(args) < 2:
            raise AtValueError(f"+CREG answer needs <n>,<stat>: {value!r}")
        stat = args[1]
    code = _int(stat, "+CREG stat")
    try:
        return Registration(code)
    except ValueError:
        raise AtValueError(f"+CREG stat out of range: {code}") from None


# 27.007 <AcT> values
ACCESS_TECHNOLOGY = {
    0: "GSM",
    1: "GSM Compact",
    2: "UTRAN",
    3: "GSM/EGPRS",
    4: "UTRAN/HSDPA",
    5: "UTRAN/HSUPA",
    6: "UTRAN/HSPA",
    7: "E-UTRAN",
}


@dataclass(frozen=True)
class Operator:
    """The network the modem is on (+COPS)."""

    name: str | None
    access_technology: str | None


def parse_cops(value: str) -> Operator:
    """Decode '+COPS: <mode>[,<format>,<oper>[,<AcT>]]'."""
    args = split_args(value)
    if len(args) < 3 or not args[2]:
        return Operator(None, None)
    act = ACCESS_TECHNOLOGY.get(_int(args[3], "+COPS AcT")) if len(args) > 3 else None
    return Operator(args[2], act)


class SimState(enum.Enum):
    """SIM card state derived from +CPIN / +CME ERROR."""

    READY = "READY"
    PIN_REQUIRED = "SIM PIN"
    PUK_REQUIRED = "SIM PUK"
    ABSENT = "NOT INSERTED"
    ERROR = "ERROR"


# +CME ERROR codes that describe the SIM (27.007 9.2.1)
_CME_SIM = {10: SimState.ABSENT, 11: SimState.PIN_REQUIRED, 12: SimState.PUK_REQUIRED,
            13: SimState.ERROR, 14: SimState.ERROR, 15: SimState.ERROR}


def parse_cpin(value: str) -> SimState:
    """Decode '+CPIN: <code>'."""
    code = value.strip()
    for state in SimState:
        if state.value == code:
            return state
    if code.startswith("PH-") or code.endswith(("PIN2", "PUK2")):
        return SimState.PIN_REQUIRED
    return SimState.ERROR


def sim_state_from_error(final: str) -> SimState | None:
    """Map a '+CME ERROR: <n>' final result code to a SIM state, if it is about the SIM."""
    if not final.startswith("+CME ERROR:"):
        return None
    text = final.split(":", 1)[1].strip()
    if text.isdigit():
        return _CME_SIM.get(int(text))
    low = text.lower()
    if "not inserted" in low:
        return SimState.ABSENT
    if "pin required" in low:
        return SimState.PIN_REQUIRED
    if "puk required" in low:
        return SimState.PUK_REQUIRED
    return None


@dataclass(frozen=True)
class CallLine:
    """One row of +CLCC: a call the modem knows about."""

    index: int
    outgoing: bool
    stat: int
    number: str


def parse_clcc(value: str) -> CallLine:
    """Decode '+CLCC: <id>,<dir>,<stat>,<mode>,<mpty>[,<number>,<type>]'."""
    args = split_args(value)
    if len(args) < 5:
        raise AtValueError(f"+CLCC needs at least 5 values: {value!r}")
    return CallLine(
        index=_int(args[0], "+CLCC id"),
        outgoing=args[1] == "0",
        stat=_int(args[2], "+CLCC stat"),
        number=args[5] if len(args) > 5 else "",
    )
