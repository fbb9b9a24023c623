"""Business hours and holiday calendars, evaluated in the site's time zone (DST included)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from appliance.domain.errors import DomainError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_MIN = 24 * 60
_WEEK_MIN = 7 * _DAY_MIN


class CalendarError(DomainError):
    """A business-hours configuration that cannot be used."""


@dataclass(frozen=True)
class Window:
    """Open from `start` to `end` local wall time; end 00:00 means midnight; start > end runs past midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise CalendarError(f"empty opening window {self}")

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @classmethod
    def parse(cls, text: str) -> Window:
        """Read 'HH:MM-HH:MM'."""
        try:
            a, b = text.split("-")
            return cls(time.fromisoformat(a.strip()), time.fromisoformat(b.strip()))
        except (ValueError, TypeError):
            raise CalendarError(f"bad opening window {text!r}: expected HH:MM-HH:MM") from None

    def minutes(self) -> tuple[int, int]:
        """Start and end as minutes from the window's own midnight (end may pass 1440)."""
        s = self.start.hour * 60 + self.start.minute
        e = self.end.hour * 60 + self.end.minute
        return s, e + _DAY_MIN if e <= s else e


@dataclass(frozen=True)
class Holiday:
    """A closed local date, or a date with its own (shorter) hours."""

    day: date
    name: str = ""
    hours: tuple[Window, ...] = ()


@dataclass(frozen=True)
class HoursStatus:
    """Open or closed at an instant; `holiday` is set when a holiday decided it."""

    open: bool
    holiday: Holiday | None
    local: datetime


class BusinessHours:
    """Weekly opening windows plus holidays, in one IANA time zone."""

    def __init__(
        self, tz: str, weekly: Mapping[int, Sequence[Window]], holidays: Sequence[Holiday] = ()
    ) -> None:
        try:
            self.tz = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarError(f"unknown time zone {tz!r}") from None
        self.weekly = {d: tuple(w) for d, w in weekly.items()}
        if any(d not in range(7) for d in self.weekly):
            raise CalendarError(f"weekday must be 0 (Monday) to 6 (Sunday), got {sorted(self.weekly)}")
        self._spans = _check_week(self.weekly)
        self.holidays: dict[date, Holiday] = {}
        for h in holidays:
            if h.day in self.holidays:
                raise CalendarError(f"holiday {h.day} is listed twice")
            _check_day(h.hours, f"holiday {h.day}")
            self.holidays[h.day] = h

    def status(self, at: datetime) -> HoursStatus:
        """Whether the site is open at instant `at` (an aware datetime)."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise CalendarError(f"time {at} has no time zone; pass an aware datetime")
        local = at.astimezone(self.tz)
        minute = local.hour * 60 + local.minute + local.second / 60
        holiday = self.holidays.get(local.date())
        if holiday is not None:
            is_open = any(s <= minute < min(e, _DAY_MIN) for s, e in (w.minutes() for w in holiday.hours))
            return HoursStatus(is_open, holiday, local)
        yesterday = self.holidays.get(date.fromordinal(local.date().toordinal() - 1))
        week_minute = local.weekday() * _DAY_MIN + minute
        for start, end, day in self._spans:
            if start <= week_minute < end:
                # A window that began on a holiday does not spill into today: the holiday closed it.
                if yesterday is not None and day != local.weekday():
                    continue
                return HoursStatus(True, None, local)
        return HoursStatus(False, None, local)

    def is_open(self, at: datetime) -> bool:
        """True when open at `at`."""
        return self.status(at).open

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> BusinessHours:
        """Build from {'tz': ..., 'hours': {'mon-fri': ['09:00-17:00'], ...}, 'holidays': [...]}."""
        if not isinstance(data, Mapping):
            raise CalendarError("business hours must be a mapping")
        unknown = set(data) - {"tz", "hours", "holidays"}
        if unknown:
            raise CalendarError(f"unknown business-hours keys {sorted(unknown)}")
        if "tz" not in data:
            raise CalendarError("business hours need a time zone ('tz'), e.g. 'Europe/Warsaw'")
        weekly: dict[int, list[Window]] = {}
        for key, windows in dict(data.get("hours", {})).items():
            if isinstance(windows, str) or not isinstance(windows, Sequence):
                raise CalendarError(f"hours for {key!r} must be a list of 'HH:MM-HH:MM'")
            for day in _parse_days(key):
                weekly.setdefault(day, []).extend(Window.parse(w) for w in windows)
        holidays = []
        for item in data.get("holidays", []):
            if not isinstance(item, Mapping) or "date" not in item:
                raise CalendarError(f"a holiday needs a 'date': {item!r}")
            try:
                holiday_day = date.fromisoformat(str(item["date"]))
            except ValueError:
                raise CalendarError(f"bad holiday date {item['date']!r}: expected YYYY-MM-DD") from None
            hours = tuple(Window.parse(w) for w in item.get("hours", []))
            holidays.append(Holiday(holiday_day, str(item.get("name", "")), hours))
        return cls(str(data["tz"]), weekly, holidays)


def _parse_days(key: str) -> list[int]:
    """'mon', 'mon-fri', 'sat,sun' -> weekday numbers."""
    days: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise CalendarError(f"bad day {part!r}: use {', '.join(DAYS)} or a range like mon-fri")
        a, b = DAYS.index(first), DAYS.index(last or first)
        if b < a:
            raise CalendarError(f"day range {part!r} runs backwards")
        days += range(a, b + 1)
    return days


def _check_day(windows: Sequence[Window], where: str) -> None:
    for w in windows:
        if w.minutes()[1] > _DAY_MIN:
            raise CalendarError(f"{where}: window {w} runs past midnight; split it at 00:00")
    spans = sorted(w.minutes() for w in windows)
    for (s1, e1), (s2, _) in pairwise(spans):
        if s2 < e1:
            raise CalendarError(f"{where}: overlapping hours {_hm(s1)}-{_hm(e1)} and one starting {_hm(s2)}")


def _check_week(weekly: Mapping[int, Sequence[Window]]) -> list[tuple[int, int, int]]:
    """Minutes-of-week spans (start, end, weekday), overlaps refused, Sunday night wrapping to Monday."""
    spans: list[tuple[int, int, int]] = []
    for day, windows in weekly.items():
        for w in windows:
            s, e = w.minutes()
            start, end = day * _DAY_MIN + s, day * _DAY_MIN + e
            if end > _WEEK_MIN:
                spans += [(start, _WEEK_MIN, day), (0, end - _WEEK_MIN, day)]
            else:
                spans.append((start, end, day))
    spans.sort()
    for (s1, e1, d1), (s2, _, d2) in pairwise(spans):
        if s2 < e1:
            raise CalendarError(
                f"overlapping hours: {DAYS[d1]} {_hm(s1 % _DAY_MIN)}-{_hm(e1 % _DAY_MIN)} "
                f"and {DAYS[d2]} from {_hm(s2 % _DAY_MIN)}"
            )
    return spans


def _hm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
