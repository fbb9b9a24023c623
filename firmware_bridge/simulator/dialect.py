"""The simulated modem's AT interpreter: lines in, result codes and URCs out.

No I/O: output goes through `emit`, delayed network events through `schedule`, both
provided by the runner (firmware_bridge.simulator.runner). One class serves the three
profiles; the differences are the call URCs, the PCM switch and USSD string coding.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from firmware_bridge.simulator.messaging import (
    OWN_NUMBER,
    SMSC,
    STORE_SIZE,
    Messaging,
    SentSms,
    StoredSms,
)

Emit = Callable[[bytes], None]
Schedule = Callable[[float, Callable[[], None]], None]

IMEIS = {"quectel": "867962040000017", "simcom": "862636050000018", "huawei": "353142030000019"}
MODELS = {"quectel": ("Quectel", "EC25"), "simcom": ("SIMCOM INCORPORATED", "SIMCOM_SIM7600E"),
          "huawei": ("huawei", "E1550")}


@dataclass
class SimCall:
    """The call the simulated modem carries."""

    number: str
    outgoing: bool
    active: bool = False
    started: float = 0.0


@dataclass
class SimConfig:
    """Network and SIM conditions; the control API and the faults change them."""

    sim: str = "READY"  # READY, SIM PIN, ABSENT
    registered: bool = True
    operator: str = "Simnet"
    rssi: int = 20
    lte_only: bool = False  # registered on LTE (+CEREG) but not circuit-switched (+CREG)
    auto_answer_after: float | None = None  # outgoing calls answered by the far end
    ussd: dict[str, tuple[str, bool]] = field(
        default_factory=lambda: {"*100#": ("Balance: 12.50 EUR, valid until 31/12", False)}
    )


class Dialect(Messaging):
    """AT interpreter of one simulated modem."""

    def __init__(self, profile: str, emit: Emit, schedule: Schedule,
                 config: SimConfig | None = None) -> None:
        if profile not in IMEIS:
            raise ValueError(f"unknown profile {profile!r}")
        self.profile = profile
        self.config = config or SimConfig()
        self._emit = emit
        self._schedule = schedule
        self.store: dict[int, StoredSms] = {}
        self.sent: list[SentSms] = []
        self.received_commands: list[str] = []
        self.mr = 0
        self.clock: Callable[[], float] = lambda: 0.0
        self.on_reset: Callable[[], None] = lambda: None
        self.urcs_before_next_final: list[str] = []  # squeezed into the next response
        self.dtmf_sent: list[str] = []  # digits the host sent into the call with AT+VTS
        self.power_on()

    # --- state -------------------------------------------------------------------------

    def power_on(self) -> None:
        """Reset the volatile state as a module does when it boots (the SIM store stays)."""
        self.echo = True
        self.cmee = 0
        self.cnmi_mt = 1
        self.cnmi_ds = 1
        self.reg_urcs: set[str] = set()  # +CREG / +CEREG reporting switched on
        self.clcc_urc = False
        self.ccinfo_urc = False
        self.call: SimCall | None = None
        self.pcm = False
        self._buf = b""
        self._prompt_len: int | None = None

    @property
    def pcm_flowing(self) -> bool:
        """True while PCM frames should flow on the audio port."""
        return self.pcm and self.call is not None and self.call.active

    def boot_urcs(self) -> None:
        """What the module prints when it has booted."""
        if self.profile == "quectel":
            self._urc("RDY")
        elif self.profile == "simcom":
            self._urc("RDY")
            self._urc("PB DONE")
        else:
            self._urc("^BOOT:12345678,0,0,0,75")

    # --- input -------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Consume bytes written by the host."""
        self._buf += data
        while True:
            if self._prompt_len is not None:
                end = min((i for i in (self._buf.find(b"\x1a"), self._buf.find(b"\x1b"))
                           if i >= 0), default=-1)
                if end < 0:
                    return
                body, terminator = self._buf[:end], self._buf[end:end + 1]
                self._buf = self._buf[end + 1:]
                length, self._prompt_len = self._prompt_len, None
                if self.echo:
                    self._emit(body + terminator)
                if terminator == b"\x1a":
                    self._submit(body.decode("ascii", "replace").strip(), length)
                else:
                    self._final("OK")
                continue
            cut = self._buf.find(b"\r")
            if cut < 0:
                return
            raw, self._buf = self._buf[:cut], self._buf[cut + 1:]
            line = raw.decode("ascii", "replace").strip().lstrip("\n")
            if self.echo:
                self._emit(raw + b"\r")
            if line:
                self.received_commands.append(line)
                self._command(line)

    # --- output helpers ----------------------------------------------------------------

    def _urc(self, line: str) -> None:
        self._emit(b"\r\n" + line.encode() + b"\r\n")

    def _info(self, line: str) -> None:
        self._emit(b"\r\n" + line.encode() + b"\r\n")

    def _final(self, code: str) -> None:
        while self.urcs_before_next_final:
            self._urc(self.urcs_before_next_final.pop(0))
        self._emit(b"\r\n" + code.encode() + b"\r\n")

    def _cme(self, code: int) -> None:
        self._final(f"+CME ERROR: {code}")

    def _sim_error(self) -> bool:
        if self.config.sim == "ABSENT":
            self._cme(10)
            return True
        if self.config.sim == "SIM PIN":
            self._cme(11)
            return True
        return False

    # --- commands ----------------------------------------------------------------------

    def _command(self, line: str) -> None:
        up = line.upper()
        if not up.startswith("AT"):
            self._final("ERROR")
            return
        body = line[2:]
        handler = self._match(body)
        if handler is None:
            self._final("ERROR")
        else:
            handler(body)

    def _match(self, body: str) -> Callable[[str], None] | None:
        up = body.upper()
        table: list[tuple[str, Callable[[str], None]]] = [
            ("+CGSN", self._cgsn), ("+GSN", self._cgsn), ("+CGMI", self._cgmi),
            ("+CGMM", self._cgmm), ("+CPIN", self._cpin), ("+CSQ", self._csq),
            ("+QCSQ", self._qcsq), ("+CREG", self._creg), ("+CEREG", self._creg),
            ("+COPS", self._cops), ("+CFUN", self._cfun), ("+CLCC", self._clcc),
            ("+CNMI", self._cnmi), ("+CMGS", self._cmgs), ("+CMGR", self._cmgr),
            ("+CMGD", self._cmgd), ("+CMGL", self._cmgl), ("+CUSD", self._cusd),
            ("+QPCMV", self._pcm_switch), ("+CPCMREG", self._pcm_switch),
            ("^DDSETEX", self._pcm_switch), ("+QINDCFG", self._qindcfg), ("+CHUP", self._hangup),
            ("+CMEE", self._cmee), ("+CMGF", self._cmgf), ("+CSCS", self._ok), ("+CLIP", self._ok),
            ("+QURCCFG", self._ok), ("^CURC", self._ok), ("^CVOICE", self._ok),
            ("+CPMS", self._cpms), ("+VTS", self._vts),
        ]
        for prefix, handler in table:
            if up.startswith(prefix) and (len(up) == len(prefix) or up[len(prefix)] in "=?"):
                if prefix == "+CEREG" and self.profile == "huawei":
                    return None  # a 3G stick
                if prefix in ("+QPCMV", "+QINDCFG", "+QCSQ") and self.profile != "quectel":
                    return None
                if prefix == "+CPCMREG" and self.profile != "simcom":
                    return None
                if prefix in ("^DDSETEX", "^CURC", "^CVOICE") and self.profile != "huawei":
                    return None
                return handler
        if up in ("", "I"):
            return self._ati if up == "I" else self._ok
        if up in ("E0", "E1"):
            return self._echo
        if up.startswith("D"):
            return self._dial
        if up == "A":
            return self._answer
        if up in ("H", "H0"):
            return self._hangup
        return None

    def _ok(self, _body: str) -> None:
        self._final("OK")

    def _cmee(self, body: str) -> None:
        if body.endswith("?"):
            self._info(f"+CMEE: {self.cmee}")
        elif "=" in body:
            value = body.split("=", 1)[1].strip()
            if value not in ("0", "1", "2"):
                self._final("ERROR")
                return
            self.cmee = int(value)
        self._final("OK")

    def _echo(self, body: str) -> None:
        self.echo = body.upper() == "E1"
        self._final("OK")

    def _ati(self, _body: str) -> None:
        maker, model = MODELS[self.profile]
        self._info(maker)
        self._info(model)
        self._info("Revision: SIM-1.0")
        self._final("OK")

    def _cgsn(self, _body: str) -> None:
        self._info(IMEIS[self.profile])
        self._final("OK")

    def _cgmi(self, _body: str) -> None:
        self._info(MODELS[self.profile][0])
        self._final("OK")

    def _cgmm(self, _body: str) -> None:
        self._info(MODELS[self.profile][1])
        self._final("OK")

    def _cmgf(self, body: str) -> None:
        if body.endswith("=0") or body.endswith("?"):
            self._final("OK")
        else:
            self._final("+CMS ERROR: 303")  # this simulator speaks PDU mode only

    def _cpin(self, body: str) -> None:
        if body.upper() == "+CPIN?":
            if self.config.sim == "ABSENT":
                self._cme(10)
            else:
                self._info(f"+CPIN: {self.config.sim}")
                self._final("OK")
        else:
            self._cme(16)  # this simulator has no PIN to check: incorrect password

    def _csq(self, _body: str) -> None:
        rssi = self.config.rssi if self.config.registered else 99
        self._info(f"+CSQ: {rssi},99")
        self._final("OK")

    def _qcsq(self, _body: str) -> None:
        if self.config.registered:
            rssi = -113 + 2 * self.config.rssi
            self._info(f'+QCSQ: "LTE",{rssi},-95,150,-9')
        else:
            self._info('+QCSQ: "NOSERVICE"')
        self._final("OK")

    def stat(self, name: str) -> int:
        """27.007 registration <stat> for +CREG (circuit) or +CEREG (LTE)."""
        if self.config.sim != "READY":
            return 0
        if name == "+CREG" and self.config.lte_only:
            return 0
        return 1 if self.config.registered else 2

    def _creg(self, body: str) -> None:
        name = "+CEREG" if body.upper().startswith("+CEREG") else "+CREG"
        if body.endswith("?"):
            self._info(f"{name}: {1 if name in self.reg_urcs else 0},{self.stat(name)}")
        elif "=" in body:
            if body.split("=", 1)[1].strip() != "0":
                self.reg_urcs.add(name)
            else:
                self.reg_urcs.discard(name)
        self._final("OK")

    def _cops(self, body: str) -> None:
        if body.endswith("?"):
            if self.config.registered and self.config.sim == "READY":
                act = 7 if self.profile != "huawei" else 2
                self._info(f'+COPS: 0,0,"{self.config.operator}",{act}')
            else:
                self._info("+COPS: 0")
        self._final("OK")

    def _cfun(self, body: str) -> None:
        if body.replace(" ", "") in ("+CFUN=1,1", "+CFUN=1,1,"):
            self._final("OK")
            self.on_reset()
            return
        if body.endswith("?"):
            self._info("+CFUN: 1")
        self._final("OK")

    def _cnmi(self, body: str) -> None:
        if "=" in body:
            parts = body.split("=", 1)[1].split(",")
            try:
                self.cnmi_mt = int(parts[1]) if len(parts) > 1 and parts[1] else 0
                self.cnmi_ds = int(parts[3]) if len(parts) > 3 and parts[3] else 0
            except ValueError:
                self._final("ERROR")
                return
        self._final("OK")

    def _cpms(self, body: str) -> None:
        if body.endswith("?"):
            n = len(self.store)
            self._info(f'+CPMS: "SM",{n},{STORE_SIZE},"SM",{n},{STORE_SIZE},"SM",{n},{STORE_SIZE}')
        self._final("OK")

    def _qindcfg(self, body: str) -> None:
        if '"ccinfo"' in body.lower():
            self.ccinfo_urc = body.rstrip().endswith("1")
        self._final("OK")

    # --- calls ------------------------------------------------------------------------

    def _clcc(self, body: str) -> None:
        if "=" in body:
            self.clcc_urc = body.split("=", 1)[1].strip() == "1"
        elif self.call is not None:
            self._info("+CLCC: " + self._clcc_row(self._call_stat()))
        self._final("OK")

    def _call_stat(self) -> int:
        call = self.call
        if call is None:
            return 6
        if call.active:
            return 0
        return 3 if call.outgoing else 4

    def _clcc_row(self, stat: int) -> str:
        call = self.call
        number = call.number if call else ""
        direction = 0 if call and call.outgoing else 1
        toa = 145 if number.startswith("+") else 129
        return f'1,{direction},{stat},0,0,"{number}",{toa}'

    def _call_urcs(self, stat: int) -> None:
        """Report call state `stat` (27.007 numbering) in this profile's dialect."""
        if self.profile == "quectel" and self.ccinfo_urc:
            self._urc('+QIND: "ccinfo",' + self._clcc_row(7 if stat == 6 else stat))
        if self.profile == "simcom":
            if self.clcc_urc:
                self._urc("+CLCC: " + self._clcc_row(stat))
            if stat == 0:
                self._urc("VOICE CALL: BEGIN")
            elif stat == 6:
                secs = int(self.clock() - self.call.started) if self.call else 0
                self._urc(f"VOICE CALL: END: {secs:06d}")
        if self.profile == "huawei":
            if stat == 2:
                self._urc("^ORIG:1,0")
            elif stat == 3:
                self._urc("^CONF:1")
            elif stat == 0:
                self._urc("^CONN:1,0")
            elif stat == 6:
                secs = int(self.clock() - self.call.started) if self.call else 0
                self._urc(f"^CEND:1,{secs},104,16")

    def _dial(self, body: str) -> None:
        m = re.fullmatch(r"D([0-9+*#]+);", body.strip(), re.IGNORECASE)
        if m is None:
            self._final("ERROR")
            return
        if self._sim_error():
            return
        if not self.config.registered:
            self._cme(30)  # no network service
            return
        if self.call is not None:
            self._cme(3)
            return
        self.call = SimCall(m.group(1), outgoing=True)
        self._final("OK")
        self._call_urcs(2)
        self._call_urcs(3)
        if self.config.auto_answer_after is not None:
            self._schedule(self.config.auto_answer_after, self.remote_answer)

    def _answer(self, _body: str) -> None:
        call = self.call
        if call is None or call.outgoing or call.active:
            self._final("NO CARRIER")
            return
        self._final("OK")
        self._connect()

    def _connect(self) -> None:
        assert self.call is not None
        self.call.active = True
        self.call.started = self.clock()
        self._call_urcs(0)

    def _hangup(self, _body: str) -> None:
        self._final("OK")
        if self.call is not None:
            self._end_call(remote=False)

    def _end_call(self, *, remote: bool) -> None:
        self._call_urcs(6)
        self.call = None
        if self.profile == "simcom":
            self.pcm = False
        if remote and self.profile != "huawei":
            self._urc("NO CARRIER")

    def _vts(self, body: str) -> None:
        """AT+VTS=<digit> (27.007): a DTMF tone into the active call."""
        digit = body.split("=", 1)[1].strip().strip('"') if "=" in body else ""
        if self.call is None or not self.call.active:
            self._cme(3)  # operation not allowed
            return
        if len(digit) != 1 or digit.upper() not in "0123456789*#ABCD":
            self._final("ERROR")
            return
        self.dtmf_sent.append(digit.upper())
        self._final("OK")

    def _pcm_switch(self, body: str) -> None:
        value = body.split("=", 1)[1].strip() if "=" in body else ""
        if body.endswith("?"):
            self._final("OK")
            return
        on = value.startswith("1") or (self.profile == "huawei" and value == "2")
        if on and self.profile != "quectel" and (self.call is None or not self.call.active):
            self._final("ERROR")  # SIMCom and Huawei switch audio only during a call
            return
        self.pcm = on
        self._final("OK")

    # --- network side (control API) -------------------------------------------------------

    def incoming_call(self, number: str) -> None:
        """The network offers a call from `number`."""
        if self.call is not None:
            raise RuntimeError("a call is already up")
        self.call = SimCall(number, outgoing=False)
        self._call_urcs(4)
        self.ring()

    def ring(self) -> None:
        """One RING (+CLIP) of the incoming call."""
        if self.call is None or self.call.active:
            return
        self._urc("RING")
        toa = 145 if self.call.number.startswith("+") else 129
        self._urc(f'+CLIP: "{self.call.number}",{toa},,,,0')

    def remote_answer(self) -> None:
        """The far end of an outgoing call answers."""
        if self.call is not None and self.call.outgoing and not self.call.active:
            self._connect()

    def remote_hangup(self) -> None:
        """The far end (or the network) ends the call."""
        if self.call is not None:
            self._end_call(remote=True)


__all__ = ["OWN_NUMBER", "SMSC", "Dialect", "SentSms", "SimConfig", "StoredSms"]
