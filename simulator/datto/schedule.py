"""Backup schedules as slot arithmetic: the k-th backup after a moment, without ticking through hours.

Times are whole seconds since the Unix epoch (UTC). A device keeps local time as a fixed offset,
so its week starts at its local Monday 00:00: that moment in UTC is the schedule's `origin`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from functools import lru_cache

HOUR = 3600
DAY = 86400
WEEK = 7 * DAY
FIRST_MONDAY = 4 * DAY  # 1970-01-05 00:00 UTC was a Monday


def week_origin(utc_offset_hours: int) -> int:
    """The UTC moment of local Monday 00:00 (in the epoch's first week) for a fixed UTC offset."""
    return FIRST_MONDAY - utc_offset_hours * HOUR


class Schedule:
    """Backup slots at fixed hours of the week (hour 0 = Monday 00:00 local), the same every week."""

    __slots__ = ("count", "hours", "offsets")

    def __init__(self, hours: Iterable[int]) -> None:
        self.hours = tuple(sorted(set(hours)))
        if not self.hours or self.hours[0] < 0 or self.hours[-1] >= 168:
            raise ValueError("a schedule needs at least one hour of the week, each in 0..167")
        self.offsets = tuple(hour * HOUR for hour in self.hours)
        self.count = len(self.offsets)

    def __reduce__(self) -> tuple[object, tuple[tuple[int, ...]]]:
        return (schedule_of, (self.hours,))

    def nth_slot(self, t: int, origin: int, k: int = 0) -> int:
        """The k-th slot at or after `t` (k = 0: the first one)."""
        week, rest = divmod(t - origin, WEEK)
        index = bisect_left(self.offsets, rest) + k
        extra_weeks, index = divmod(index, self.count)
        return origin + (week + extra_weeks) * WEEK + self.offsets[index]

    def last_slot(self, t: int, origin: int) -> int:
        """The last slot at or before `t`."""
        week, rest = divmod(t - origin, WEEK)
        index = bisect_right(self.offsets, rest) - 1
        if index < 0:
            return origin + (week - 1) * WEEK + self.offsets[-1]
        return origin + week * WEEK + self.offsets[index]


@lru_cache(maxsize=256)
def schedule_of(hours: tuple[int, ...]) -> Schedule:
    """Schedules are shared: every asset with the same hours holds the same object."""
    return Schedule(hours)


def office_hours(first_hour: int, last_hour: int, weekends: bool) -> Schedule:
    """Hourly from `first_hour` to `last_hour` inclusive, Monday to Friday (or every day)."""
    days = range(7 if weekends else 5)
    return schedule_of(tuple(day * 24 + hour for day in days for hour in range(first_hour, last_hour + 1)))


def around_the_clock(every_hours: int = 1) -> Schedule:
    return schedule_of(tuple(range(0, 168, every_hours)))


def daily_at(t: int, origin: int, second_of_day: int, k: int = 0) -> int:
    """The k-th daily moment at local `second_of_day` at or after `t`."""
    days = -((origin + second_of_day - t) // DAY)  # ceiling division
    return origin + second_of_day + (days + k) * DAY


def last_daily(t: int, origin: int, second_of_day: int) -> int:
    """The last daily moment at local `second_of_day` at or before `t`."""
    return origin + second_of_day + ((t - origin - second_of_day) // DAY) * DAY
