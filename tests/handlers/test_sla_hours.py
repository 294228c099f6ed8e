"""Business-hours arithmetic: properties over random schedules, zones and holidays, and examples."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketbolt.bot.channels import BusinessHours
from ticketbolt.handlers.sla_hours import (
    ALWAYS,
    Schedule,
    add_business_time,
    business_time_between,
    is_open,
    parse_days,
)

PARIS = BusinessHours(
    timezone="Europe/Paris",
    days={"mon-fri": "09:00-18:00", "sat": "10:00-14:00"},
    holidays=[date(2026, 12, 25), date(2027, 1, 1)],
)


@dataclass(frozen=True)
class Hours:
    timezone: str
    days: dict[str, str]
    holidays: list[date] = field(default_factory=list)


ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    """Random week days with one or two ranges (some around the 02:00-03:00 DST hour), holidays."""
    days: dict[str, str] = {}
    for day in draw(st.sets(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]))):
        opens = draw(st.integers(0, 22))
        closes = draw(st.integers(opens + 1, 24))
        days[day] = f"{opens:02d}:{draw(st.sampled_from(['00', '30']))}-{closes:02d}:00"
    if not days:
        days["mon-fri"] = "09:00-18:00"
    holidays = draw(st.lists(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=20))
    return Schedule.of(Hours(draw(st.sampled_from(ZONES)), days, holidays))


instants = st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=0)
)
durations = st.integers(0, 14 * 86400).map(lambda s: timedelta(seconds=s))


@given(schedules(), instants, durations)
def test_due_is_never_before_start_and_gives_back_the_duration(
    schedule: Schedule, start: datetime, duration: timedelta
) -> None:
    """The due time is ≥ start, and the open time from start to it is the duration itself."""
    due = add_business_time(schedule, start, duration)
    assert due >= start
    assert duration == business_time_between(schedule, start, due)


@given(schedules(), instants, durations)
def test_due_after_a_positive_duration_is_never_in_closed_hours(
    schedule: Schedule, start: datetime, duration: timedelta
) -> None:
    """A due time falls inside opening hours or at the very moment they close."""
    due = add_business_time(schedule, start, duration + timedelta(seconds=1))
    just_before = due - timedelta(microseconds=1)
    assert is_open(schedule, just_before)


@given(schedules(), instants, durations, durations)
def test_due_is_monotone_and_adds_in_steps(
    schedule: Schedule, start: datetime, a: timedelta, b: timedelta
) -> None:
    """A longer allowance is never due earlier; adding a then b equals adding a + b."""
    first = add_business_time(schedule, start, a)
    assert add_business_time(schedule, start, a + b) >= first
    assert add_business_time(schedule, start, a + b) == add_business_time(schedule, first, b)


@given(instants, durations)
def test_always_is_plain_addition(start: datetime, duration: timedelta) -> None:
    """`always` counts wall-clock time."""
    assert start + duration == add_business_time(ALWAYS, start, duration)
    assert duration == business_time_between(ALWAYS, start, start + duration)


def test_friday_evening_plus_one_hour_is_due_saturday_morning_across_spring_dst() -> None:
    """Paris, 27 March 2026 (Fri) 17:30 + 1h: 30 min on Friday, 30 min on Saturday 10:00 CET→CEST
    (the clocks go forward on Sunday 29 March, which is closed anyway)."""
    schedule = Schedule.of(PARIS)
    paris = ZoneInfo("Europe/Paris")
    start = datetime(2026, 3, 27, 17, 30, tzinfo=paris)
    assert datetime(2026, 3, 28, 10, 30, tzinfo=paris) == add_business_time(
        schedule, start, timedelta(hours=1)
    )


def test_a_business_day_across_the_dst_weekend_counts_local_hours() -> None:
    """Sat 28 March 13:00 + 2h → Mon 30 March 10:00 CEST: the lost hour on Sunday costs nothing."""
    schedule = Schedule.of(PARIS)
    paris = ZoneInfo("Europe/Paris")
    start = datetime(2026, 3, 28, 13, 0, tzinfo=paris)
    due = add_business_time(schedule, start, timedelta(hours=2))
    assert datetime(2026, 3, 30, 10, 0, tzinfo=paris) == due
    assert timedelta(hours=2) == business_time_between(schedule, start, due)
    assert timedelta(hours=2) == due.astimezone(paris).utcoffset()


def test_the_autumn_dst_night_is_closed_and_counts_nothing() -> None:
    """Sat 24 Oct 2026 14:00 to Mon 26 Oct 09:00 (25 hours of wall clock on Sunday): zero open."""
    schedule = Schedule.of(PARIS)
    paris = ZoneInfo("Europe/Paris")
    a = datetime(2026, 10, 24, 14, 0, tzinfo=paris)
    b = datetime(2026, 10, 26, 9, 0, tzinfo=paris)
    assert timedelta(0) == business_time_between(schedule, a, b)


def test_a_holiday_is_skipped() -> None:
    """Thu 24 Dec 2026 17:00 + 2h → Sat 26 Dec 11:00: Christmas Day is closed."""
    schedule = Schedule.of(PARIS)
    paris = ZoneInfo("Europe/Paris")
    start = datetime(2026, 12, 24, 17, 0, tzinfo=paris)
    assert datetime(2026, 12, 26, 11, 0, tzinfo=paris) == add_business_time(
        schedule, start, timedelta(hours=2)
    )


def test_a_start_outside_hours_waits_for_the_opening() -> None:
    """Tue 03:00 + 15 min → Tue 09:15; the night before counts nothing."""
    schedule = Schedule.of(PARIS)
    paris = ZoneInfo("Europe/Paris")
    start = datetime(2026, 6, 2, 3, 0, tzinfo=paris)
    assert datetime(2026, 6, 2, 9, 15, tzinfo=paris) == add_business_time(
        schedule, start, timedelta(minutes=15)
    )


def test_no_business_hours_means_wall_clock() -> None:
    """No `business_hours` in the file, or no days in it: the clock always runs."""
    assert Schedule.of(None).always
    assert Schedule.of(Hours("Europe/Paris", {})).always


@pytest.mark.parametrize(
    "days",
    [{"mon-fry": "09:00-18:00"}, {"mon": "9-18"}, {"mon": "18:00-09:00"}, {"mon": "09:00-25:00"}],
)
def test_bad_days_are_refused(days: dict[str, str]) -> None:
    """Unknown day names, malformed ranges and ranges that close before they open are errors."""
    with pytest.raises(ValueError, match=r"day|hours|time"):
        parse_days(days)


def test_day_ranges_wrap_and_list() -> None:
    """`fri-mon` wraps round the week; commas list days and ranges."""
    assert {4, 5, 6, 0, 2} == set(parse_days({"fri-mon": "09:00-10:00", "wed": "09:00-10:00"}))
