"""The IVR edit form as plain values, to and from the stored IVR configuration (pure, no I/O).

The page edits one main menu and, optionally, a business-hours switch in front of it (open ->
the main menu, closed and holiday -> a destination). Other menus and switches of the stored
configuration (written through the API) are kept as they are and can be named as `menu:ID`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import available_timezones

from appliance.domain.errors import DomainError
from appliance.ivr.calendar import DAYS, BusinessHours

KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")
DEST_KINDS = ("extension", "queue", "voicemail", "external", "menu", "hangup")
HOURS_SWITCH = "hours"
DEFAULT_MENU = "main"
TIME_ZONES = tuple(sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))))
HOLIDAY_ROWS = 3  # blank holiday rows offered on the form
MAX_HOLIDAYS = 60  # holiday rows read from a post


@dataclass
class Dest:
    """A destination as the form shows it: a kind from DEST_KINDS (or '' for none) and a target."""

    kind: str = ""
    target: str = ""

    @classmethod
    def of(cls, text: str | None) -> Dest:
        """Split 'queue:700' into its kind and target ('' for nothing)."""
        if not text:
            return cls()
        kind, _, target = str(text).partition(":")
        return cls(kind.strip(), target.strip())

    def text(self) -> str:
        """The configuration's spelling ('' when unset)."""
        if not self.kind:
            return ""
        return "hangup" if self.kind == "hangup" else f"{self.kind}:{self.target.strip()}"


@dataclass
class HolidayRow:
    """One holiday: a date (YYYY-MM-DD), a name, and its own opening hours (often none)."""

    date: str = ""
    name: str = ""
    hours: str = ""


@dataclass
class IvrForm:
    """Every field of the IVR page's form."""

    number: str = ""
    name: str = ""
    language: str = "en"
    menu_id: str = DEFAULT_MENU
    prompt: str = ""
    timeout_s: str = "5"
    max_retries: str = "2"
    repeat_key: str = "*"
    on_fail: Dest = field(default_factory=lambda: Dest("hangup"))
    options: dict[str, Dest] = field(default_factory=lambda: {k: Dest() for k in KEYS})
    hours_on: bool = False
    switch_id: str = HOURS_SWITCH
    tz: str = "UTC"
    week: dict[str, str] = field(default_factory=lambda: {d: "" for d in DAYS})
    holidays: list[HolidayRow] = field(default_factory=list)
    closed: Dest = field(default_factory=lambda: Dest("hangup"))
    holiday: Dest = field(default_factory=Dest)

    def padded(self) -> IvrForm:
        """The same form with blank holiday rows to fill in."""
        out = copy.deepcopy(self)
        out.holidays = [h for h in out.holidays if h.date or h.name or h.hours] + [
            HolidayRow() for _ in range(HOLIDAY_ROWS)]
        return out


def _windows(text: str) -> list[str]:
    return [w for w in re.split(r"[\s,;]+", text.strip()) if w]


def form_from_config(number: str, name: str, language: str, config: Mapping[str, Any]) -> IvrForm:
    """The form showing a stored IVR (its main menu and its hours switch, if it has one)."""
    f = IvrForm(number=number, name=name, language=language)
    menus = config.get("menus", {}) if isinstance(config.get("menus"), Mapping) else {}
    switches = config.get("switches", {}) if isinstance(config.get("switches"), Mapping) else {}
    entry = Dest.of(str(config.get("entry", "")))
    sw = switches.get(entry.target) if entry.kind == "switch" else None
    if isinstance(sw, Mapping):
        f.hours_on, f.switch_id = True, entry.target
        f.closed = Dest.of(sw.get("closed"))
        f.holiday = Dest.of(sw.get("holiday"))
        hours = sw.get("hours", {})
        f.tz = str(hours.get("tz", "UTC"))
        try:
            weekly = BusinessHours.from_config(hours).weekly
        except DomainError:
            weekly = {}
        f.week = {d: ", ".join(str(w) for w in weekly.get(i, ())) for i, d in enumerate(DAYS)}
        f.holidays = [HolidayRow(str(h.get("date", "")), str(h.get("name", "")), ", ".join(h.get("hours", [])))
                      for h in hours.get("holidays", []) if isinstance(h, Mapping)]
        entry = Dest.of(sw.get("open"))
    f.menu_id = entry.target if entry.kind == "menu" and entry.target in menus else next(iter(menus), DEFAULT_MENU)
    menu = menus.get(f.menu_id, {})
    if isinstance(menu, Mapping):
        f.prompt = str(menu.get("prompt", ""))
        f.timeout_s = str(menu.get("timeout_s", 5))
        f.max_retries = str(menu.get("max_retries", 2))
        f.repeat_key = str(menu.get("repeat_key") or "")
        f.on_fail = Dest.of(str(menu.get("on_fail", "hangup")))
        for key, dest in dict(menu.get("options", {})).items():
            f.options[str(key)] = Dest.of(str(dest))
    return f


def form_from_post(number: str, get: Any) -> IvrForm:
    """The form as posted; `get(name)` returns a field's value ('' when absent)."""
    f = IvrForm(number=number.strip(), name=get("name").strip(), language=get("language").strip() or "en",
                menu_id=get("menu_id").strip() or DEFAULT_MENU, prompt=get("prompt").strip(),
                timeout_s=get("timeout_s").strip() or "5", max_retries=get("max_retries").strip() or "2",
                repeat_key=get("repeat_key").strip(), on_fail=Dest(get("on_fail_kind"), get("on_fail_target")),
                hours_on=get("hours_on") not in ("", "0", "off"), tz=get("tz").strip() or "UTC",
                switch_id=get("switch_id").strip() or HOURS_SWITCH,
                closed=Dest(get("closed_kind"), get("closed_target")),
                holiday=Dest(get("holiday_kind"), get("holiday_target")))
    f.options = {k: Dest(get(f"opt_{k}_kind"), get(f"opt_{k}_target")) for k in KEYS}
    f.week = {d: get(f"week_{d}").strip() for d in DAYS}
    rows = [HolidayRow(get(f"hol_{i}_date").strip(), get(f"hol_{i}_name").strip(), get(f"hol_{i}_hours").strip())
            for i in range(MAX_HOLIDAYS)]
    f.holidays = [r for r in rows if r.date or r.name or r.hours]
    return f


def _number(text: str, what: str, kind: type[int] | type[float], problems: list[str]) -> int | float:
    try:
        return kind(text)
    except ValueError:
        problems.append(f"{what} must be a number, not {text!r}")
        return kind(0)


def config_from_form(f: IvrForm, base: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The configuration the form describes (other menus of `base` kept) and the form's own problems.

    The IVR service checks the result fully; this only reports what cannot even be written down.
    """
    problems: list[str] = []
    config: dict[str, Any] = copy.deepcopy(dict(base or {}))
    menus: dict[str, Any] = dict(config.get("menus", {})) if isinstance(config.get("menus"), Mapping) else {}
    for what, ident in (("menu", f.menu_id), ("switch", f.switch_id)):
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", ident):
            problems.append(f"{what} id {ident!r}: use 1-40 of A-Z, a-z, 0-9, '-' and '_'")
    for label, dest in [("on failure", f.on_fail), ("closed", f.closed), ("holiday", f.holiday),
                        *((f"key {k}", d) for k, d in f.options.items())]:
        if dest.kind and dest.kind not in DEST_KINDS:
            problems.append(f"{label}: unknown destination kind {dest.kind!r}")
    menu: dict[str, Any] = {
        "prompt": f.prompt,
        "options": {k: d.text() for k, d in f.options.items() if d.kind},
        "timeout_s": _number(f.timeout_s, "timeout", float, problems),
        "max_retries": _number(f.max_retries, "invalid retries", int, problems),
        "repeat_key": f.repeat_key or None,
        "on_fail": f.on_fail.text() or "hangup",
    }
    old = menus.get(f.menu_id)
    if isinstance(old, Mapping):  # keep what the page does not show (dial_extensions, invalid prompt...)
        menu = {**old, **menu}
    menus[f.menu_id] = menu
    config["menus"] = menus
    switches: dict[str, Any] = dict(config.get("switches", {})) if isinstance(config.get("switches"), Mapping) else {}
    if f.hours_on:
        if f.tz not in TIME_ZONES and f.tz != "UTC":
            problems.append(f"time zone {f.tz!r} is not in the list")
        holidays = []
        for h in f.holidays:
            item: dict[str, Any] = {"date": h.date, "name": h.name}
            if h.hours:
                item["hours"] = _windows(h.hours)
            holidays.append(item)
        sw: dict[str, Any] = {
            "hours": {"tz": f.tz, "hours": {d: _windows(t) for d, t in f.week.items() if t.strip()},
                      "holidays": holidays},
            "open": f"menu:{f.menu_id}", "closed": f.closed.text() or "hangup",
        }
        if f.holiday.kind:
            sw["holiday"] = f.holiday.text()
        old_sw = switches.get(f.switch_id)
        switches[f.switch_id] = {**old_sw, **sw} if isinstance(old_sw, Mapping) else sw
        if not f.holiday.kind:
            switches[f.switch_id].pop("holiday", None)
        config["entry"] = f"switch:{f.switch_id}"
    else:
        switches.pop(f.switch_id, None)
        config["entry"] = f"menu:{f.menu_id}"
    if switches:
        config["switches"] = switches
    else:
        config.pop("switches", None)
    return config, problems
