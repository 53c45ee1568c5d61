"""Calendar days in a team's time zone, and the date ranges of per-member series."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np

from app.errors import Invalid

MAX_RANGE_DAYS = 731
DEFAULT_RANGE_DAYS = 28


@dataclass(frozen=True)
class DayRange:
    start: date
    end: date

    def length(self) -> int:
        return (self.end - self.start).days + 1

    def days(self) -> list[date]:
        # numpy makes the dates in C: a year of them is on the hot path of the ACWR reads.
        first = np.datetime64(self.start, "D")
        dates: list[date] = np.arange(first, first + self.length()).tolist()
        return dates


class Zoned(Protocol):
    timezone: str


def team_zone(team: Zoned) -> ZoneInfo:
    """The team's IANA zone, in which its days begin and end."""
    return ZoneInfo(team.timezone)


def today(tz: ZoneInfo) -> date:
    return datetime.now(tz).date()


def day_of(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar date of ``moment`` in the team's zone: the day a session counts on."""
    return moment.astimezone(tz).date()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where ``day`` starts and the next day starts, in the team's zone."""
    start = datetime.combine(day, time.min, tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tz).astimezone(UTC)
    return start, end


def resolve_range(tz: ZoneInfo, start: date | None, end: date | None) -> DayRange:
    """Apply the contract's defaults: ``to`` is today at most, ``from`` 27 days before it."""
    local_today = today(tz)
    end = min(end or local_today, local_today)
    start = start or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:
        raise Invalid(
            "'from' must not be after 'to' (which is capped at today)", field=("query", "from")
        )
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise Invalid(f"A range may span at most {MAX_RANGE_DAYS} days", field=("query", "from"))
    return DayRange(start, end)
