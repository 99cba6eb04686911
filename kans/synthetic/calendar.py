"""Time in the synthetic years: the school calendar (holidays, Easter, the year's administrative close), monthly
seasonality from the 2019-2020 report, and compact timestamps.

A moment is an int `stamp` = day ordinal * 1440 + minute of the day, in Brussels local time. Events happen in
office hours (08:00-17:45), where local order is UTC order, so stamps sort like the events' instants; they are
formatted once per day with that day's UTC offset (summer time included).
"""

from __future__ import annotations

import random
from bisect import bisect
from datetime import date, datetime, timedelta
from itertools import accumulate

from schemas.envelope import BRUSSELS

DAY = 1440
MONTHS = (9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 7, 8)  # a school year's months, September -> August

# Share of new referrals per month, September -> August (carry-over re-referrals come on top in September).
# Secondary: a steady inflow with a January peak after the Christmas class councils; 77% until 31 March
# (report T5: 119 of 154 in 2018-2019). Primary: mostly early in the year, trickling in afterwards.
SEASON_SECONDARY = (8, 11, 11, 8, 16, 11, 11, 7, 8, 6, 1.5, 1.5)
SEASON_PRIMARY = (13, 12, 10, 7, 12, 10, 10, 7, 8, 7, 2, 2)
# Group referrals: primary in the first trimester with a November peak, hardly any after Easter (G14); secondary
# from May of the previous year (theme workshops for the next year), quiet September, October-November peak (G39).
SEASON_GROUPS_PRIMARY = (10, 20, 25, 11, 10, 9, 8, 4, 2, 1, 0, 0)
SEASON_GROUPS_SECONDARY = (6, 17, 15, 8, 9, 7, 7, 4, 4, 3, 0, 0)
GROUP_REQUESTS_AHEAD = (7, 6, 1.5, 2.5)  # secondary, made in May-August of the year before: 17 of 69


def easter_sunday(year: int) -> date:
    """Gregorian Easter (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def month_counts(total: float, weights: tuple[float, ...], rng: random.Random, noise: float) -> list[int]:
    """Split `total` over the months: each weight varied by `noise`, rounded by largest remainder."""
    varied = [w * (1 + noise * (2 * rng.random() - 1)) for w in weights]
    exact = [total * w / sum(varied) for w in varied]
    counts = [int(x) for x in exact]
    target = round(total)
    order = sorted(range(len(exact)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[: max(0, target - sum(counts))]:
        counts[i] += 1
    return counts


class SchoolCalendar:
    """Holidays and working days of one school year (Flemish calendar, approximated)."""

    def __init__(self, start_year: int) -> None:
        self.start_year = start_year
        self.first_day = date(start_year, 9, 1)
        self.last_day = date(start_year + 1, 8, 31)
        self.easter = easter_sunday(start_year + 1)
        all_saints = date(start_year, 11, 1)
        autumn = all_saints - timedelta(days=all_saints.weekday())
        carnival = self.easter - timedelta(days=48)
        self.holidays = (
            (autumn, autumn + timedelta(days=6)),
            (date(start_year, 12, 24), date(start_year + 1, 1, 7)),
            (carnival, carnival + timedelta(days=6)),
            (self.easter - timedelta(days=6), self.easter + timedelta(days=8)),
            (date(start_year + 1, 7, 1), self.last_day),
        )
        close = date(start_year + 1, 6, 30)
        while close.weekday() >= 5:
            close -= timedelta(days=1)
        self.close_day = close  # the administrative close of every running trajectory
        self.dispatch_cutoff = date(start_year + 1, 6, 12)  # later dispatches are "too late in the school year"
        self._months = [self._weighted_days(m) for m in MONTHS]

    def in_holiday(self, day: date) -> bool:
        return any(a <= day <= b for a, b in self.holidays)

    def month_date(self, index: int) -> date:
        """First day of the index-th month of the school year (0 = September)."""
        month = MONTHS[index]
        return date(self.start_year + (month < 9), month, 1)

    def _weighted_days(self, month: int) -> tuple[list[int], list[float]]:
        day = date(self.start_year + (month < 9), month, 1)
        days, weights = [], []
        while day.month == month:
            if day.weekday() < 5:
                days.append(day.toordinal())
                weights.append(0.25 if self.in_holiday(day) else 1.0)
            day += timedelta(days=1)
        return days, list(accumulate(weights))

    def pick_day(self, rng: random.Random, month_index: int) -> int:
        """A working day of the month (school holidays less likely), as an ordinal."""
        days, cumulative = self._months[month_index]
        return days[bisect(cumulative, rng.random() * cumulative[-1])]


def weekday_on_or_after(ordinal: int) -> int:
    weekday = (ordinal - 1) % 7  # date.fromordinal(1) is a Monday
    return ordinal + (7 - weekday if weekday >= 5 else 0)


def office_time(rng: random.Random, ordinal: int) -> int:
    """A stamp on a working day at or after `ordinal`, in office hours (quarter hours 08:00-17:45)."""
    return weekday_on_or_after(ordinal) * DAY + 480 + 15 * int(rng.random() * 40)


def later(rng: random.Random, stamp: int, min_days: int, max_days: int) -> int:
    """An office-hours stamp `min_days`-`max_days` days after `stamp` (strictly later when min_days is 0)."""
    result = office_time(rng, stamp // DAY + min_days + int(rng.random() * (max_days - min_days + 1)))
    return result if result > stamp else stamp + 15


def stamp_of(day: date, minute: int = 0) -> int:
    return day.toordinal() * DAY + minute


def day_of(stamp: int) -> date:
    return date.fromordinal(stamp // DAY)


class Clock:
    """Formats stamps as ISO 8601 with the Brussels offset of the day; caches one prefix per day."""

    def __init__(self) -> None:
        self._days: dict[int, tuple[str, str]] = {}

    def iso(self, stamp: int) -> str:
        ordinal, minute = divmod(stamp, DAY)
        cached = self._days.get(ordinal)
        if cached is None:
            day = date.fromordinal(ordinal)
            offset = datetime(day.year, day.month, day.day, 12, tzinfo=BRUSSELS).strftime("%z")
            cached = self._days[ordinal] = (day.isoformat(), f"{offset[:3]}:{offset[3:]}")
        return f"{cached[0]}T{minute // 60:02d}:{minute % 60:02d}:00{cached[1]}"


def randint(rng: random.Random, low: int, high: int) -> int:
    """A whole number in [low, high] from one random draw (cheaper than Random.randint, same role)."""
    return low + int(rng.random() * (high - low + 1))
