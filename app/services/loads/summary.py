"""Weekly load summaries (Foster 1998): totals, monotony and strain per ISO week.

Pure functions over a member's daily loads; fetching them is the caller's job. A week is an ISO
week, Monday to Sunday, labelled ``"2026-W47"`` with the ISO year, which differs from the
calendar year around New Year (2026-12-28 to 2027-01-03 is ``2026-W53``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class WeekSummary:
    """One ISO week of daily loads, rest days counted as 0."""

    week: str
    total_au: float
    mean_au: float
    sd_au: float
    monotony: float | None
    strain: float | None
    change_pct: float | None
    planned_au: int | None = None


def iso_week_label(day: date) -> str:
    """The ISO week ``day`` falls in, as ``YYYY-Www`` with the ISO (not calendar) year."""
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def widen_to_iso_weeks(start: date, end: date) -> tuple[date, date]:
    """The Monday of ``start``'s week and the Sunday of ``end``'s week."""
    if start > end:
        raise ValueError("start must not be after end")
    return monday_of(start), monday_of(end) + timedelta(days=6)


def loads_needed(start: date, end: date) -> tuple[date, date]:
    """The days whose loads :func:`weekly_summary` reads for the range ``start``..``end``.

    The widened range plus the week before it, which ``change_pct`` of the first week compares
    against even though it lies outside the range.
    """
    first, last = widen_to_iso_weeks(start, end)
    return first - WEEK, last


def _daily(loads: Mapping[date, float] | Iterable[tuple[date, float]]) -> dict[date, float]:
    pairs = loads.items() if isinstance(loads, Mapping) else loads
    daily: dict[date, float] = {}
    for day, load in pairs:
        # Several rows for one day (e.g. one per session) add up to that day's load.
        daily[day] = daily.get(day, 0.0) + float(load)
    return daily


def _sample_sd(values: list[float], mean: float) -> float:
    """Sample SD (n - 1, as spreadsheets compute it); exactly 0 when all values are equal.

    The exact 0 matters: with fractional loads, a two-pass SD of seven equal values can come out
    as a rounding residue, and monotony = mean / residue would be absurdly large instead of null.
    """
    if max(values) == min(values):
        return 0.0
    squares = math.fsum((value - mean) ** 2 for value in values)
    return math.sqrt(squares / (len(values) - 1))


def _week_total(daily: Mapping[date, float], monday: date) -> float:
    return math.fsum(daily.get(monday + timedelta(days=i), 0.0) for i in range(7))


def weekly_summary(
    loads: Mapping[date, float] | Iterable[tuple[date, float]],
    start: date,
    end: date,
    planned: Mapping[date, int] | None = None,
) -> list[WeekSummary]:
    """One :class:`WeekSummary` per ISO week touching ``start``..``end`` (both included).

    ``loads`` maps days to loads (or lists ``(day, load)`` pairs, which add up per day); days
    missing from it are rest days (0). It should cover :func:`loads_needed`, i.e. from the
    Monday of the week before the first week, since ``change_pct`` of the first week compares
    with that previous calendar week.

    Per week over its 7 daily loads: ``total_au``, ``mean_au``, ``sd_au`` (sample SD),
    ``monotony = mean / sd`` (None when sd is 0), ``strain = total * monotony`` (None with
    monotony), ``change_pct = 100 * (total - previous) / previous`` (None when previous is 0).
    ``planned_au``: the sum of ``planned`` (the planned load per day with a planned session)
    over the week, None when none of its days has an entry.
    """
    planned = planned or {}
    daily = _daily(loads)
    monday, last = widen_to_iso_weeks(start, end)
    previous_total = _week_total(daily, monday - WEEK)
    weeks: list[WeekSummary] = []
    while monday <= last:
        values = [daily.get(monday + timedelta(days=i), 0.0) for i in range(7)]
        total = math.fsum(values)
        mean = total / 7
        sd = _sample_sd(values, mean)
        monotony = mean / sd if sd != 0 else None
        strain = total * monotony if monotony is not None else None
        change = 100.0 * (total - previous_total) / previous_total if previous_total != 0 else None
        plans = [planned[d] for i in range(7) if (d := monday + timedelta(days=i)) in planned]
        weeks.append(
            WeekSummary(
                week=iso_week_label(monday),
                total_au=total,
                mean_au=mean,
                sd_au=sd,
                monotony=monotony,
                strain=strain,
                change_pct=change,
                planned_au=sum(plans) if plans else None,
            )
        )
        previous_total = total
        monday += WEEK
    return weeks
