"""Business hours in the site's time zone: weekly windows, overnight, holidays, DST, validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.ivr.calendar import BusinessHours, CalendarError, Holiday, Window


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


WARSAW_OFFICE = {
    "tz": "Europe/Warsaw",
    "hours": {"mon-fri": ["09:00-17:00"], "sat": ["10:00-14:00"]},
    "holidays": [
        {"date": "2026-12-25", "name": "Christmas"},
        {"date": "2026-12-24", "name": "Wigilia", "hours": ["09:00-13:00"]},
    ],
}


@pytest.fixture
def office() -> BusinessHours:
    return BusinessHours.from_config(WARSAW_OFFICE)


def test_weekday_hours_in_local_time(office: BusinessHours) -> None:
    # Wednesday 2026-01-14, Warsaw is UTC+1 in winter.
    assert not office.is_open(utc(2026, 1, 14, 7, 59))  # 08:59 local
    assert office.is_open(utc(2026, 1, 14, 8, 0))  # 09:00 local
    assert office.is_open(utc(2026, 1, 14, 15, 59))  # 16:59 local
    assert not office.is_open(utc(2026, 1, 14, 16, 0))  # 17:00 local: the end is exclusive
    assert not office.is_open(utc(2026, 1, 18, 12, 0))  # Sunday


def test_summer_time_shifts_the_utc_opening(office: BusinessHours) -> None:
    # Wednesday 2026-07-15, Warsaw is UTC+2: 09:00 local is 07:00 UTC.
    assert office.is_open(utc(2026, 7, 15, 7, 0))
    assert not office.is_open(utc(2026, 7, 15, 6, 59))
    assert not office.is_open(utc(2026, 7, 15, 15, 0))  # 17:00 local


def test_the_day_after_each_dst_change(office: BusinessHours) -> None:
    # DST starts Sunday 2026-03-29; Monday 09:00 CEST is 07:00 UTC (it was 08:00 UTC the week before).
    assert office.is_open(utc(2026, 3, 30, 7, 0)) and not office.is_open(utc(2026, 3, 23, 7, 0))
    # DST ends Sunday 2026-10-25; Monday 09:00 CET is 08:00 UTC again.
    assert not office.is_open(utc(2026, 10, 26, 7, 30)) and office.is_open(utc(2026, 10, 26, 8, 0))


def test_night_window_across_the_skipped_hour() -> None:
    # Open Sunday 01:00-04:00 local. On 2026-03-29 02:00-03:00 does not exist in Warsaw.
    hours = BusinessHours("Europe/Warsaw", {6: [Window(time(1), time(4))]})
    assert hours.is_open(utc(2026, 3, 29, 0, 30))  # 01:30 CET
    assert hours.is_open(utc(2026, 3, 29, 1, 0))  # 03:00 CEST (02:00 was skipped)
    assert not hours.is_open(utc(2026, 3, 29, 2, 0))  # 04:00 CEST
    # Open for exactly 2 real hours that night instead of 3.
    minutes = sum(hours.is_open(utc(2026, 3, 28, 22) + timedelta(minutes=m)) for m in range(0, 8 * 60))
    assert minutes == 120


def test_night_window_across_the_repeated_hour() -> None:
    # On 2026-10-25 02:00-03:00 happens twice in Warsaw; a 02:00-03:00 window is open both times.
    hours = BusinessHours("Europe/Warsaw", {6: [Window(time(2), time(3))]})
    assert hours.is_open(utc(2026, 10, 25, 0, 30))  # 02:30 CEST
    assert hours.is_open(utc(2026, 10, 25, 1, 30))  # 02:30 CET
    assert not hours.is_open(utc(2026, 10, 25, 2, 0))  # 03:00 CET
    minutes = sum(hours.is_open(utc(2026, 10, 24, 22) + timedelta(minutes=m)) for m in range(0, 8 * 60))
    assert minutes == 120


def test_holidays_close_or_shorten_the_day(office: BusinessHours) -> None:
    status = office.status(utc(2026, 12, 25, 10, 0))  # Friday, Christmas
    assert not status.open and status.holiday is not None and status.holiday.name == "Christmas"
    assert office.is_open(utc(2026, 12, 24, 11, 0))  # 12:00 on Wigilia
    assert not office.is_open(utc(2026, 12, 24, 12, 0))  # 13:00: closed early
    assert office.status(utc(2026, 12, 24, 11, 0)).holiday is not None


def test_overnight_window_belongs_to_the_day_it_starts() -> None:
    hours = BusinessHours("UTC", {4: [Window(time(22), time(6))]})  # Friday night
    assert hours.is_open(utc(2026, 1, 16, 23, 0))  # Friday 23:00
    assert hours.is_open(utc(2026, 1, 17, 5, 59))  # Saturday 05:59
    assert not hours.is_open(utc(2026, 1, 17, 6, 0))
    assert not hours.is_open(utc(2026, 1, 15, 23, 0))  # Thursday night


def test_sunday_night_wraps_into_monday_unless_sunday_is_a_holiday() -> None:
    hours = BusinessHours("UTC", {6: [Window(time(22), time(2))]})
    assert hours.is_open(utc(2026, 1, 19, 1, 0))  # Monday 01:00
    closed = BusinessHours("UTC", {6: [Window(time(22), time(2))]}, [Holiday(date(2026, 1, 18))])
    assert not closed.is_open(utc(2026, 1, 19, 1, 0))


def test_until_midnight() -> None:
    hours = BusinessHours("UTC", {0: [Window(time(20), time(0))]})
    assert hours.is_open(utc(2026, 1, 12, 23, 59))
    assert not hours.is_open(utc(2026, 1, 13, 0, 0))


def test_naive_time_is_refused(office: BusinessHours) -> None:
    with pytest.raises(CalendarError, match="no time zone"):
        office.is_open(datetime(2026, 1, 14, 10, 0))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
        ({"hours": {"mon": ["09:00-12:00", "11:00-14:00"]}}, "overlapping hours"),
        ({"hours": {"mon-fri": ["09:00-17:00"], "wed": ["16:00-18:00"]}}, "overlapping hours"),
        ({"hours": {"sun": ["22:00-02:00"], "mon": ["01:00-05:00"]}}, "overlapping hours"),
        ({"hours": {"mon": ["9-17"]}}, "HH:MM-HH:MM"),
        ({"hours": {"mon": ["09:00-09:00"]}}, "empty opening window"),
        ({"hours": {"funday": ["09:00-17:00"]}}, "bad day"),
        ({"hours": {"fri-mon": ["09:00-17:00"]}}, "backwards"),
        ({"hours": {"mon": "09:00-17:00"}}, "must be a list"),
        ({"holidays": [{"date": "2026-02-30"}]}, "bad holiday date"),
        ({"holidays": [{"date": "2026-01-01"}, {"date": "2026-01-01"}]}, "listed twice"),
        ({"holidays": [{"date": "2026-01-01", "hours": ["22:00-02:00"]}]}, "past midnight"),
        ({"colour": "blue"}, "unknown business-hours keys"),
    ],
)
def test_bad_configuration_gets_a_clear_error(change: dict[str, object], message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        BusinessHours.from_config(WARSAW_OFFICE | change)


def test_missing_time_zone() -> None:
    with pytest.raises(CalendarError, match="time zone"):
        BusinessHours.from_config({"hours": {}})


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)))
def test_open_exactly_when_local_wall_time_is_in_a_window(at: datetime) -> None:
    hours = BusinessHours.from_config({"tz": "America/New_York", "hours": {"mon-fri": ["08:30-18:00"]}})
    local = at.astimezone(hours.tz)
    expected = local.weekday() < 5 and time(8, 30) <= local.time().replace(tzinfo=None) < time(18)
    assert hours.is_open(at) == expected
