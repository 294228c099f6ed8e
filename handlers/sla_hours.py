"""Business-hours arithmetic for SLA clocks: when an allowance falls due, how much has elapsed.

Pure: aware datetimes in, aware UTC datetimes out. A `Schedule` is built from the channels
file's `business_hours` (any object with `timezone`, `days` and `holidays`, such as
bot/channels.py `BusinessHours`) or is `ALWAYS` (wall-clock time). Opening hours are local
wall-clock times in the schedule's zone; on a DST change day an hour that does not exist is
skipped and an hour that happens twice counts once (the first time).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
# A schedule whose every day is closed would never fall due; give up after this many days.
_HORIZON_DAYS = 3 * 366


class HoursSpec(Protocol):
    """The shape of the channels file's `business_hours`."""

    @property
    def timezone(self) -> str: ...
    @property
    def days(self) -> Mapping[str, str]: ...
    @property
    def holidays(self) -> Sequence[date]: ...


def _day_keys(key: str) -> list[int]:
    """`mon-fri` → [0..4]; `sat` → [5]; `fri-mon` wraps; `mon,wed` lists."""
    found: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"not a day or day range like mon-fri: {key!r}")
        start, end = DAYS.index(first), DAYS.index(last or first)
        found += [(start + i) % 7 for i in range((end - start) % 7 + 1)]
    return found


def _ranges(value: str) -> list[tuple[time | None, time | None]]:
    """`09:00-18:00` (or several, comma-separated); `24:00` closes at midnight."""
    out: list[tuple[time | None, time | None]] = []
    for part in value.replace(" ", "").split(","):
        match = _RANGE.fullmatch(part)
        if not match:
            raise ValueError(f"opening hours look like 09:00-18:00 (got {value!r})")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(f"not a time of day in {value!r}")
        if (h2, m2) <= (h1, m1):
            raise ValueError(f"opening hours must close after they open: {value!r}")
        out.append((time(h1, m1), None if h2 == 24 else time(h2, m2)))
    return out


def parse_days(days: Mapping[str, str]) -> dict[int, list[tuple[time, time | None]]]:
    """Weekday (Monday = 0) → its opening ranges; `ValueError` names what is wrong."""
    week: dict[int, list[tuple[time, time | None]]] = {}
    for key, value in days.items():
        for day in _day_keys(key):
            for opens, closes in _ranges(str(value)):
                assert opens is not None  # a range always opens at a time of day
                week.setdefault(day, []).append((opens, closes))
    for ranges in week.values():
        ranges.sort()
    return week


@dataclass(frozen=True)
class Schedule:
    """When the clock runs. `week` is empty for `ALWAYS`."""

    zone: ZoneInfo
    week: Mapping[int, Sequence[tuple[time, time | None]]]
    holidays: frozenset[date] = frozenset()

    @classmethod
    def of(cls, spec: HoursSpec | None) -> Schedule:
        """The file's business hours; none, or no days listed, means wall-clock time."""
        if spec is None or not spec.days:
            return ALWAYS
        return cls(ZoneInfo(spec.timezone), parse_days(spec.days), frozenset(spec.holidays))

    @property
    def always(self) -> bool:
        return not self.week

    def _open(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The day's opening intervals as UTC instants, in order, empty ones dropped."""
        if day in self.holidays:
            return
        for opens, closes in self.week.get(day.weekday(), ()):
            begin = datetime.combine(day, opens, self.zone).astimezone(UTC)
            end_local = (
                datetime.combine(day + timedelta(days=1), time(0), self.zone)
                if closes is None
                else datetime.combine(day, closes, self.zone)
            )
            end = end_local.astimezone(UTC)
            if end > begin:
                yield begin, end

    def intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Opening intervals that end after `start`, from its local day on, never overlapping
        (the first may begin before `start`)."""
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last_end: datetime | None = None
        for offset in range(_HORIZON_DAYS):
            for opens, end in self._open(day + timedelta(days=offset)):
                begin = opens if last_end is None else max(opens, last_end)
                if end > begin and end > start:
                    last_end = end
                    yield begin, end
        raise ValueError("the business hours are closed for years: the clock would never run")


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("SLA arithmetic needs aware datetimes")
    return moment.astimezone(UTC)


def add_business_time(schedule: Schedule, start: datetime, duration: timedelta) -> datetime:
    """The instant at which `duration` of open time has passed since `start`."""
    start = _utc(start)
    if duration < timedelta(0):
        raise ValueError("a duration to add is never negative")
    if schedule.always or not duration:
        return start + duration
    left = duration
    for opens, end in schedule.intervals(start):
        begin = max(opens, start)
        if end - begin >= left:
            return begin + left
        left -= end - begin
    raise AssertionError("unreachable: intervals raises when it runs out")


def business_time_between(schedule: Schedule, a: datetime, b: datetime) -> timedelta:
    """Open time in `[a, b)`; zero when `b` is not after `a`."""
    a, b = _utc(a), _utc(b)
    if b <= a:
        return timedelta(0)
    if schedule.always:
        return b - a
    total = timedelta(0)
    for opens, end in schedule.intervals(a):
        if opens >= b:
            break
        total += min(end, b) - max(opens, a)
    return total


def is_open(schedule: Schedule, moment: datetime) -> bool:
    """Whether the clock runs at `moment`."""
    moment = _utc(moment)
    if schedule.always:
        return True
    begin, end = next(schedule.intervals(moment))
    return begin <= moment < end


ALWAYS = Schedule(ZoneInfo("UTC"), {})
