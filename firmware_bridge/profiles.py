"""Modem profiles: each vendor's init sequence, call commands, PCM switch and call URCs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.at.parser import Urc
from firmware_bridge.at.values import AtValueError, split_args
from firmware_bridge.calls import CallSignal, CallUpdate

# 27.007 <stat> of +CLCC (SIMCom adds 6 = disconnected; Quectel ccinfo uses 7 = released)
_CLCC_STAT = {
    0: CallSignal.CONNECTED,
    1: CallSignal.CONNECTED,
    2: CallSignal.DIALING,
    3: CallSignal.ALERTING,
    4: CallSignal.INCOMING,
    5: CallSignal.INCOMING,
    6: CallSignal.ENDED,
    7: CallSignal.ENDED,
}

COMMON_INIT: tuple[str, ...] = (
    "ATE0",  # no echo
    "AT+CMEE=1",  # numeric +CME ERROR codes
    "AT+CMGF=0",  # SMS in PDU mode
    'AT+CSCS="GSM"',  # USSD strings in the GSM alphabet
    "AT+CNMI=2,1,0,1,0",  # new SMS -> +CMTI (stored), status reports -> +CDS (direct)
    "AT+CLIP=1",  # caller number with RING
    "AT+CREG=1",  # registration changes as URCs
)


def _from_clcc_args(args: list[str], offset: int) -> CallUpdate | None:
    """Decode <id>,<dir>,<stat>,<mode>,<mpty>[,<number>] starting at args[offset]."""
    try:
        stat = int(args[offset + 2])
    except (IndexError, ValueError):
        return None
    signal = _CLCC_STAT.get(stat)
    if signal is None:
        return None
    number = args[offset + 5] if len(args) > offset + 5 and args[offset + 5] else None
    return CallUpdate(signal, number)


def generic_call_update(urc: Urc) -> CallUpdate | None:
    """Map the 3GPP call URCs every profile understands."""
    name = urc.name
    if name in ("RING", "+CRING"):
        return CallUpdate(CallSignal.INCOMING)
    if name == "+CLIP":
        args = split_args(urc.value)
        return CallUpdate(CallSignal.INCOMING, args[0] or None)
    if name == "+CLCC":
        return _from_clcc_args(split_args(urc.value), 0)
    if urc.line.startswith(("NO CARRIER", "BUSY", "NO ANSWER")):
        return CallUpdate(CallSignal.ENDED)
    return None


def quectel_call_update(urc: Urc) -> CallUpdate | None:
    """Quectel: +QIND: "ccinfo",<id>,<dir>,<stat>,<mode>,<mpty>,<number>,<type>."""
    if urc.name == "+QIND":
        args = split_args(urc.value)
        if args and args[0] == "ccinfo":
            return _from_clcc_args(args, 1)
        return None
    return generic_call_update(urc)


def simcom_call_update(urc: Urc) -> CallUpdate | None:
    """SIMCom: VOICE CALL: BEGIN / VOICE CALL: END: <duration>, MISSED_CALL."""
    if urc.line.startswith("VOICE CALL: BEGIN"):
        return CallUpdate(CallSignal.CONNECTED)
    if urc.line.startswith("VOICE CALL: END"):
        return CallUpdate(CallSignal.ENDED)
    if urc.line.startswith("MISSED_CALL"):
        return CallUpdate(CallSignal.ENDED)
    return generic_call_update(urc)


def huawei_call_update(urc: Urc) -> CallUpdate | None:
    """Huawei: ^ORIG (dialing), ^CONF (ringback), ^CONN (connected), ^CEND (ended)."""
    signal = {
        "^ORIG": CallSignal.DIALING,
        "^CONF": CallSignal.ALERTING,
        "^CONN": CallSignal.CONNECTED,
        "^CEND": CallSignal.ENDED,
    }.get(urc.name)
    if signal is not None:
        return CallUpdate(signal)
    return generic_call_update(urc)


@dataclass(frozen=True)
class Profile:
    """Everything that differs between modem vendors."""

    name: str
    model: str
    init: tuple[str, ...]
    urc_prefixes: tuple[str, ...]
    call_update: Callable[[Urc], CallUpdate | None]
    pcm_on: tuple[str, ...]
    pcm_off: tuple[str, ...]
    hangup: str = "ATH"
    answer: str = "ATA"
    dial_template: str = "ATD{number};"
    extra_signal: str | None = None  # vendor signal detail command (Quectel AT+QCSQ)
    ussd_packed: bool = False  # USSD strings sent/received as packed GSM-7 hex
    reset: str = "AT+CFUN=1,1"
    pcm_after_connect: bool = True  # PCM can only be switched on once the call is up
    lte: bool = True  # has LTE registration (+CEREG) besides circuit-switched (+CREG)

    def dial(self, number: str) -> str:
        """Return the voice dial command for `number` (digits, +, *, # only)."""
        if not number or any(ch not in "0123456789+*#" for ch in number):
            raise AtValueError(f"not a dialable number: {number!r}")
        return self.dial_template.format(number=number)

    def call_update_for(self, urc: Urc) -> CallUpdate | None:
        """Decode a URC into a call signal, or None when it is not about calls."""
        try:
            return self.call_update(urc)
        except AtValueError:
            return None


QUECTEL = Profile(
    name="quectel",
    model="Quectel EC25/EG25",
    init=(*COMMON_INIT, "AT+CEREG=1", 'AT+QINDCFG="ccinfo",1', 'AT+QURCCFG="urcport","usbat"'),
    urc_prefixes=("+QIND:", "+QUSIM:", "RDY", "+CFUN:", "POWERED DOWN"),
    call_update=quectel_call_update,
    pcm_on=("AT+QPCMV=1,0",),  # voice over the USB serial (NMEA) port
    pcm_off=("AT+QPCMV=0",),
    hangup="ATH",
    extra_signal="AT+QCSQ",
    pcm_after_connect=False,
)

SIMCOM = Profile(
    name="simcom",
    model="SIMCom SIM7600",
    init=(*COMMON_INIT, "AT+CEREG=1", "AT+CLCC=1"),
    urc_prefixes=("VOICE CALL:", "MISSED_CALL:", "PB DONE", "SMS DONE", "+CPCMREG:", "RDY"),
    call_update=simcom_call_update,
    pcm_on=("AT+CPCMREG=1",),  # voice over the USB audio serial port
    pcm_off=("AT+CPCMREG=0",),
    hangup="AT+CHUP",
)

HUAWEI = Profile(
    name="huawei",
    model="Huawei E1550-class",
    init=(*COMMON_INIT, "AT^CURC=0", "AT^CVOICE=0"),
    urc_prefixes=("^ORIG:", "^CONF:", "^CONN:", "^CEND:", "^RSSI:", "^BOOT:", "^MODE:",
                  "^SIMST:", "^SRVST:", "^DSFLOWRPT:"),
    call_update=huawei_call_update,
    pcm_on=("AT^DDSETEX=2",),  # voice to the diagnostics serial port
    pcm_off=(),
    hangup="AT+CHUP",
    ussd_packed=True,
    lte=False,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (QUECTEL, SIMCOM, HUAWEI)}


def get_profile(name: str) -> Profile:
    """Return the profile called `name` (quectel, simcom, huawei)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown modem profile {name!r}; known: {sorted(PROFILES)}") from None
