"""IVR configuration: menus, business-hours switches, and their validation with clear errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from appliance.acd.destination import HANGUP, Destination, DestinationKind
from appliance.domain.errors import DomainError
from appliance.ivr.calendar import BusinessHours, CalendarError

DTMF = frozenset("0123456789*#")


class IvrConfigError(DomainError):
    """The IVR configuration cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("IVR configuration: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Menu:
    """A menu: a prompt, digit -> destination, and what to do on silence or bad input."""

    menu_id: str
    prompt: str
    options: Mapping[str, Destination]
    timeout_s: float = 5.0
    max_retries: int = 2  # bad or missing input this many times is forgiven; the next goes to on_fail
    repeat_key: str | None = "*"
    invalid_prompt: str = "invalid-option"
    on_fail: Destination = HANGUP
    dial_extensions: bool = False  # callers may dial an extension number directly
    inter_digit_timeout_s: float = 3.0


@dataclass(frozen=True)
class Switch:
    """Business hours choose the branch: open, closed, or a holiday branch."""

    switch_id: str
    hours: BusinessHours
    open: Destination
    closed: Destination
    holiday: Destination | None = None  # None: holidays take the closed branch


@dataclass(frozen=True)
class Directory:
    """What exists outside the IVR, to check destinations against."""

    extensions: frozenset[str] = frozenset()
    queues: frozenset[str] = frozenset()
    mailboxes: frozenset[str] = frozenset()
    ivrs: frozenset[str] = frozenset()  # IVR numbers a key may send the caller on to


@dataclass(frozen=True)
class IvrConfig:
    """A whole IVR: where a call enters, its menus and its switches."""

    entry: Destination
    menus: Mapping[str, Menu] = field(default_factory=dict)
    switches: Mapping[str, Switch] = field(default_factory=dict)
    directory: Directory = field(default_factory=Directory)
    number: str = ""  # this IVR's own number ('' when unknown), so it cannot name itself

    def __post_init__(self) -> None:
        problems = validate(self)
        if problems:
            raise IvrConfigError(problems)


def _check_destination(cfg: IvrConfig, dest: Destination, where: str) -> list[str]:
    d = cfg.directory
    known: dict[DestinationKind, Mapping[str, object] | frozenset[str]] = {
        DestinationKind.MENU: cfg.menus,
        DestinationKind.SWITCH: cfg.switches,
        DestinationKind.EXTENSION: d.extensions,
        DestinationKind.QUEUE: d.queues,
        DestinationKind.VOICEMAIL: d.mailboxes,
        DestinationKind.IVR: d.ivrs,
    }
    if dest.kind is DestinationKind.IVR and cfg.number and dest.target == cfg.number:
        return [f"{where}: IVR {dest.target} sends the caller to itself (use a menu of this IVR instead)"]
    if dest.kind in known and dest.target not in known[dest.kind]:
        return [f"{where}: unknown {dest.kind.value} {dest.target!r}"]
    if dest.kind is DestinationKind.EXTERNAL:
        body = dest.target[1:] if dest.target.startswith("+") else dest.target
        if not body.isdigit():
            return [f"{where}: external number {dest.target!r} is not a phone number"]
    return []


def validate(cfg: IvrConfig) -> list[str]:
    """Every problem in the configuration, in plain words (empty when it is usable)."""
    problems = _check_destination(cfg, cfg.entry, "entry")
    for key, menu in cfg.menus.items():
        where = f"menu {key!r}"
        if key != menu.menu_id:
            problems.append(f"{where}: listed under a different id than its own {menu.menu_id!r}")
        if not menu.prompt:
            problems.append(f"{where}: no prompt")
        if not menu.options:
            problems.append(f"{where}: no options")
        if menu.timeout_s <= 0 or menu.inter_digit_timeout_s <= 0:
            problems.append(f"{where}: timeouts must be > 0")
        if menu.max_retries < 0:
            problems.append(f"{where}: max_retries must be >= 0")
        if menu.repeat_key is not None and (menu.repeat_key not in DTMF or len(menu.repeat_key) != 1):
            problems.append(f"{where}: repeat key {menu.repeat_key!r} is not a DTMF key")
        for digit, dest in menu.options.items():
            if len(digit) != 1 or digit not in DTMF:
                problems.append(f"{where}: option {digit!r} is not a single DTMF key (0-9, *, #)")
            if digit == menu.repeat_key:
                problems.append(f"{where}: key {digit!r} is both an option and the repeat key")
            problems += _check_destination(cfg, dest, f"{where} option {digit!r}")
        problems += _check_destination(cfg, menu.on_fail, f"{where} on_fail")
        if menu.dial_extensions and not cfg.directory.extensions:
            problems.append(f"{where}: dial_extensions is on but no extensions are known")
    for key, sw in cfg.switches.items():
        where = f"switch {key!r}"
        if key != sw.switch_id:
            problems.append(f"{where}: listed under a different id than its own {sw.switch_id!r}")
        branches: list[tuple[str, Destination | None]] = [
            ("open", sw.open), ("closed", sw.closed), ("holiday", sw.holiday),
        ]  # fmt: skip
        for name, branch in branches:
            if branch is not None:
                problems += _check_destination(cfg, branch, f"{where} {name}")
    if not problems:
        problems += _switch_loops(cfg)
    return problems


def _switch_loops(cfg: IvrConfig) -> list[str]:
    """Switches that lead only to switches forever would spin without the caller doing anything."""
    problems = []
    for start in cfg.switches:
        stack, seen = [start], set()
        while stack:
            sid = stack.pop()
            if sid in seen:
                if sid == start:
                    problems.append(f"switch {start!r} can lead back to itself without a menu in between")
                    break
                continue
            seen.add(sid)
            sw = cfg.switches[sid]
            for dest in (sw.open, sw.closed, sw.holiday):
                if dest is not None and dest.kind is DestinationKind.SWITCH:
                    stack.append(dest.target)
    return problems


def _dest(value: Any, where: str, problems: list[str]) -> Destination:
    try:
        return Destination.parse(str(value))
    except DomainError as e:
        problems.append(f"{where}: {e}")
        return HANGUP


def load_ivr(data: Mapping[str, Any], directory: Directory, number: str = "") -> IvrConfig:
    """Build an IVR from plain data (JSON/YAML shape); raise IvrConfigError listing every problem."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise IvrConfigError(["the IVR configuration must be a mapping"])
    entry = _dest(data.get("entry", ""), "entry", problems)
    menus: dict[str, Menu] = {}
    for mid, m in dict(data.get("menus", {})).items():
        where = f"menu {mid!r}"
        if not isinstance(m, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        extra = set(m) - {
            "prompt", "options", "timeout_s", "max_retries", "repeat_key", "invalid_prompt", "on_fail",
            "dial_extensions", "inter_digit_timeout_s",
        }  # fmt: skip
        if extra:
            problems.append(f"{where}: unknown keys {sorted(extra)}")
        options = {str(k): _dest(v, f"{where} option {k!r}", problems) for k, v in dict(m.get("options", {})).items()}
        try:
            menus[mid] = Menu(
                menu_id=mid,
                prompt=str(m.get("prompt", "")),
                options=options,
                timeout_s=float(m.get("timeout_s", 5.0)),
                max_retries=int(m.get("max_retries", 2)),
                repeat_key=None if m.get("repeat_key", "*") is None else str(m.get("repeat_key", "*")),
                invalid_prompt=str(m.get("invalid_prompt", "invalid-option")),
                on_fail=_dest(m.get("on_fail", "hangup"), f"{where} on_fail", problems),
                dial_extensions=bool(m.get("dial_extensions", False)),
                inter_digit_timeout_s=float(m.get("inter_digit_timeout_s", 3.0)),
            )
        except (TypeError, ValueError) as e:
            problems.append(f"{where}: {e}")
    switches: dict[str, Switch] = {}
    for sid, s in dict(data.get("switches", {})).items():
        where = f"switch {sid!r}"
        if not isinstance(s, Mapping) or "hours" not in s or "open" not in s or "closed" not in s:
            problems.append(f"{where}: needs 'hours', 'open' and 'closed'")
            continue
        try:
            hours = BusinessHours.from_config(s["hours"])
        except CalendarError as e:
            problems.append(f"{where}: {e}")
            continue
        holiday = s.get("holiday")
        switches[sid] = Switch(
            sid,
            hours,
            _dest(s["open"], f"{where} open", problems),
            _dest(s["closed"], f"{where} closed", problems),
            None if holiday is None else _dest(holiday, f"{where} holiday", problems),
        )
    if problems:
        raise IvrConfigError(problems)
    return IvrConfig(entry, menus, switches, directory, number)
