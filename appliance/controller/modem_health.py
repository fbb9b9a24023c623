"""The modem's health as the controller sees it: the bridge's status reports turned into alarms,
events and metrics.

The firmware bridge owns the modem and reports its status document (state, signal,
registration, SIM, last error, open alarms) on every change and as a heartbeat. Alarms are
reconciled against that document (not replayed as events), so a lost or repeated report
cannot leave an alarm open or raise it twice; the alarms table is the record and the cloud
exporter takes it from there like any other alarm.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import aiosqlite

from appliance.domain.clock import Clock, iso

log = logging.getLogger(__name__)

# The bridge's alarm codes (firmware_bridge/health.py) and the severity they carry on the box.
MODEM_ALARMS: dict[str, str] = {
    "modem_down": "major",
    "no_network": "major",
    "sim_pin_required": "critical",
    "sim_puk_required": "critical",
    "sim_absent": "critical",
}
STATES = ("not_configured", "stopped", "connecting", "ready", "unresponsive", "resetting")


class InvalidStatus(ValueError):
    """The bridge sent a status document the controller cannot use."""


class AlarmSink(Protocol):
    """Where alarms are raised and cleared (CallStore)."""

    async def raise_alarm(self, at: datetime, severity: str, code: str, message: str) -> None:
        """Raise unless open."""
        ...

    async def clear_alarm(self, at: datetime, code: str) -> None:
        """Clear if open."""
        ...


class EventSink(Protocol):
    """Where modem events are recorded (MessagingStore)."""

    async def modem_event(self, at: str, type_: str, data: dict[str, Any]) -> None:
        """Record one event."""
        ...


@dataclass(frozen=True)
class AlarmChanges:
    """What reconciling the open alarms with the bridge's report asks for."""

    raise_: dict[str, str]  # code -> text
    clear: frozenset[str]


def alarm_changes(open_codes: Iterable[str], reported: Mapping[str, str]) -> AlarmChanges:
    """Raise the reported modem alarms that are not open, clear the open ones no longer reported."""
    open_set = {c for c in open_codes if c in MODEM_ALARMS}
    wanted = {c: t for c, t in reported.items() if c in MODEM_ALARMS}
    return AlarmChanges({c: t for c, t in wanted.items() if c not in open_set},
                        frozenset(open_set - wanted.keys()))


def check_status(doc: Any) -> dict[str, Any]:
    """The status document if it is usable, else InvalidStatus with the reason."""
    if not isinstance(doc, dict):
        raise InvalidStatus("the status must be a JSON object")
    if doc.get("state") not in STATES:
        raise InvalidStatus(f"state must be one of {', '.join(STATES)}")
    alarms = doc.get("alarms", {})
    if not isinstance(alarms, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in alarms.items()):
        raise InvalidStatus("alarms must map codes to texts")
    signal = doc.get("signal")
    if signal is not None and not isinstance(signal, dict):
        raise InvalidStatus("signal must be an object or null")
    return doc


def _events(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Modem events for what changed between two status documents (emitted only on change)."""
    out: list[tuple[str, dict[str, Any]]] = []
    old = old or {}
    if old.get("state") != new.get("state"):
        out.append(("modem_state", {"old": old.get("state"), "new": new.get("state"),
                                    "last_error": new.get("last_error")}))
    if old.get("registration") != new.get("registration"):
        out.append(("modem_registration", {"registration": new.get("registration"),
                                           "operator": new.get("operator")}))
    if old.get("sim") != new.get("sim"):
        out.append(("modem_sim", {"sim": new.get("sim")}))
    return out


class ModemHealthMonitor:
    """Keeps the last status the bridge reported; raises/clears alarms; records events; metrics."""

    def __init__(self, db: aiosqlite.Connection, alarms: AlarmSink, events: EventSink, clock: Clock) -> None:
        self._db = db
        self._alarms = alarms
        self._events = events
        self._clock = clock
        self.status: dict[str, Any] | None = None
        self.last_report: float | None = None
        self.reports = 0

    async def _open_codes(self) -> set[str]:
        marks = ",".join("?" * len(MODEM_ALARMS))
        async with self._db.execute(f"SELECT code FROM alarms WHERE cleared_at IS NULL AND code IN ({marks})",
                                    tuple(MODEM_ALARMS)) as cur:
            return {str(r[0]) for r in await cur.fetchall()}

    async def update(self, doc: Any) -> AlarmChanges:
        """Take a status report; raise and clear alarms to match it; record what changed."""
        new = check_status(doc)
        now = self._clock.now()
        for type_, data in _events(self.status, new):
            await self._events.modem_event(iso(now), type_, data)
        self.status = new
        self.last_report = self._clock.monotonic()
        self.reports += 1
        changes = alarm_changes(await self._open_codes(), new.get("alarms", {}))
        for code, text in changes.raise_.items():
            log.warning("modem alarm raised: %s (%s)", code, text)
            await self._alarms.raise_alarm(now, MODEM_ALARMS[code], code, text or code)
        for code in sorted(changes.clear):
            log.info("modem alarm cleared: %s", code)
            await self._alarms.clear_alarm(now, code)
        return changes

    def families(self) -> list[tuple[str, str, str, list[tuple[dict[str, str], float | None]]]]:
        """Prometheus families (name, type, help, samples) for /metrics."""
        st = self.status or {"state": "not_configured"}
        signal = st.get("signal") or {}
        reg = st.get("registration")
        age = None if self.last_report is None else round(self._clock.monotonic() - self.last_report, 3)
        return [
            ("appliance_modem_up", "gauge", "1 when the modem answers and is initialised (state ready).",
             [({}, 1 if st.get("state") == "ready" else 0)]),
            ("appliance_modem_state", "gauge", "The modem's state (1 for the current one).",
             [({"state": s}, 1 if st.get("state") == s else 0) for s in STATES]),
            ("appliance_modem_signal_dbm", "gauge", "Received signal strength (+CSQ as dBm; NaN unknown).",
             [({}, signal.get("rssi_dbm"))]),
            ("appliance_modem_registered", "gauge", "1 when registered on a network (home or roaming).",
             [({}, 1 if reg in (1, 5) else 0)]),
            ("appliance_modem_alarms", "gauge", "Open modem alarms.", [({}, len(st.get("alarms") or {}))]),
            ("appliance_modem_report_age_seconds", "gauge", "Seconds since the bridge last reported (NaN never).",
             [({}, age)]),
        ]
