"""Heart-rate variability arithmetic, pure (no database): which value counts for a day,
the 7-day rolling mean of ln rMSSD, the 60-day baseline, the flags and the drop rule.

It can be checked by hand and is shared by the HRV series (:mod:`app.services.hrv.series`),
the roster (which flags a whole team at once with :func:`day_flags`) and the alerts.

Per day one value counts: a device's value wins over ``MANUAL``; when several devices
(WHOOP and OURA) have a value for the same day, the most recently updated one wins (ties:
the order of ``HrvSource``, WHOOP before OURA, then the lower row id).
"""

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from app.models import HrvSource
from app.services.platform.days import DayRange

Flag = Literal["below", "normal", "above"]

ROLLING_DAYS = 7  # the rolling mean covers the 7 days ending on the day
ROLLING_MIN_VALUES = 3
BASELINE_DAYS = 60  # the baseline covers the 60 days before the day
BASELINE_MIN_VALUES = 14
SWC_FACTOR = 0.5  # smallest worthwhile change = 0.5 x baseline SD (Plews et al.)

DROP_RULE = "hrv_drop"
DROP_WINDOW_DAYS = 7  # the previous 7 days
DROP_MIN_VALUES = 3
DROP_THRESHOLD_PCT = 20.0  # strictly more than this % below their mean
_DROP_DIGITS = 6  # the drop % is compared as reported: rounded, so float noise cannot flip it

HISTORY_DAYS = max(BASELINE_DAYS, ROLLING_DAYS - 1)  # fetched before a series' first day
WINDOW_DAYS = HISTORY_DAYS + 1  # what one day's flag looks at: the history and the day
FLAG_TOLERANCE = 1e-12  # see flag
_EXACT_MARGIN = 1e-9  # see day_flags

R = TypeVar("R", bound="Reading")

_SOURCE_ORDER = {source: index for index, source in enumerate(HrvSource)}


class Reading(Protocol):
    """One stored value of one source for one day (a ``DailyHRV`` row satisfies it)."""

    @property
    def id(self) -> int: ...
    @property
    def date(self) -> dt.date: ...
    @property
    def source(self) -> HrvSource: ...
    @property
    def rmssd_ms(self) -> float: ...
    @property
    def ln_rmssd(self) -> float: ...
    @property
    def updated_at(self) -> dt.datetime: ...


class StoredReading(NamedTuple):
    """A reading as plain values, as a column-only select returns it (cheaper than a row
    object when a whole team's readings are read)."""

    id: int
    date: dt.date
    source: HrvSource
    rmssd_ms: float
    ln_rmssd: float
    updated_at: dt.datetime


@dataclass(frozen=True)
class HrvDay:
    """One entry of the per-day series (all null but ``date`` on a day without data)."""

    date: dt.date
    rmssd_ms: float | None
    ln_rmssd: float | None
    rolling7_ln_mean: float | None
    baseline_ln_mean: float | None
    baseline_ln_sd: float | None
    flag: Flag | None


def _preference(reading: Reading) -> tuple[bool, dt.datetime, int, int]:
    """Higher is preferred: a device over MANUAL, then the newest update, then the source
    order (WHOOP before OURA), then the older row."""
    return (
        reading.source != HrvSource.MANUAL,
        reading.updated_at,
        -_SOURCE_ORDER[reading.source],
        -reading.id,
    )


def choose_value(readings: Iterable[R]) -> R | None:
    """The value that counts for a day, among that day's readings (any sources)."""
    return max(readings, key=_preference, default=None)


def choose_daily(readings: Iterable[R]) -> dict[date, R]:
    """The value that counts for each day, from readings of one athlete over many days."""
    by_day: dict[date, list[R]] = {}
    for reading in readings:
        by_day.setdefault(reading.date, []).append(reading)
    chosen: dict[date, R] = {}
    for day, day_readings in sorted(by_day.items()):
        best = choose_value(day_readings)
        if best is not None:
            chosen[day] = best
    return chosen


def _window(values: Mapping[date, float], first: date, last: date) -> list[float]:
    """The values of the days ``first`` to ``last`` (both included), oldest first."""
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return [values[d] for d in days if d in values]


def days_before(day: date, days: int) -> date:
    """``day`` minus ``days``, clamped at the first representable date."""
    return date.fromordinal(max(day.toordinal() - days, 1))


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def sample_sd(values: Sequence[float]) -> float:
    """Sample standard deviation (n - 1 in the denominator); needs two values or more."""
    if len(values) < 2:
        raise ValueError("a sample SD needs at least two values")
    centre = mean(values)
    return math.sqrt(math.fsum((v - centre) ** 2 for v in values) / (len(values) - 1))


def rolling_mean(
    ln_values: Mapping[date, float],
    day: date,
    *,
    days: int = ROLLING_DAYS,
    min_values: int = ROLLING_MIN_VALUES,
) -> float | None:
    """Mean ln rMSSD over the ``days`` days ending on ``day`` (included); None with fewer
    than ``min_values`` values in that window."""
    window = _window(ln_values, days_before(day, days - 1), day)
    return mean(window) if len(window) >= min_values else None


def baseline(
    ln_values: Mapping[date, float],
    day: date,
    *,
    days: int = BASELINE_DAYS,
    min_values: int = BASELINE_MIN_VALUES,
) -> tuple[float, float] | None:
    """Mean and sample SD of ln rMSSD over the ``days`` days before ``day`` (``day``
    excluded); None with fewer than ``min_values`` values in that window."""
    if day.toordinal() <= 1:
        return None
    window = _window(ln_values, days_before(day, days), day - timedelta(days=1))
    if len(window) < max(min_values, 2):
        return None
    return mean(window), sample_sd(window)


def flag(
    rolling: float | None,
    baseline_mean: float | None,
    baseline_sd: float | None,
    *,
    swc_factor: float = SWC_FACTOR,
) -> Flag | None:
    """``below`` when rolling < mean - swc_factor x SD, ``above`` when rolling > mean +
    swc_factor x SD, ``normal`` otherwise (the band edges included); None when either side
    is missing.

    Differences below ``FLAG_TOLERANCE`` (relative) are rounding, not physiology: a player
    who enters the same value every day has means of 7 and 60 equal values that differ
    in the last bit and an SD of 0, and must read ``normal``, not ``below``.
    """
    if rolling is None or baseline_mean is None or baseline_sd is None:
        return None
    slack = FLAG_TOLERANCE * max(1.0, abs(baseline_mean))
    if rolling < baseline_mean - swc_factor * baseline_sd - slack:
        return "below"
    if rolling > baseline_mean + swc_factor * baseline_sd + slack:
        return "above"
    return "normal"


def day_point(chosen: Mapping[date, Reading], day: date) -> HrvDay:
    """The series entry of ``day`` from the chosen values (which must cover the 60 days
    before it for the baseline to be complete)."""
    ln_values = {d: r.ln_rmssd for d, r in chosen.items()}
    return _point(chosen, ln_values, day)


def _point(chosen: Mapping[date, Reading], ln_values: Mapping[date, float], day: date) -> HrvDay:
    today = chosen.get(day)
    rolling = rolling_mean(ln_values, day)
    base = baseline(ln_values, day)
    base_mean, base_sd = base if base is not None else (None, None)
    return HrvDay(
        date=day,
        rmssd_ms=today.rmssd_ms if today is not None else None,
        ln_rmssd=today.ln_rmssd if today is not None else None,
        rolling7_ln_mean=rolling,
        baseline_ln_mean=base_mean,
        baseline_ln_sd=base_sd,
        flag=flag(rolling, base_mean, base_sd),
    )


def day_flag(ln_values: Mapping[date, float], day: date) -> Flag | None:
    """The flag of ``day`` from ln rMSSD by day, exactly as the series computes it."""
    base = baseline(ln_values, day)
    if base is None:
        return None
    return flag(rolling_mean(ln_values, day), *base)


def day_flags(windows: npt.ArrayLike, day: date) -> list[Flag | None]:
    """The flag of ``day`` for each row of ``windows``: :func:`day_flags_and_bands`'s flags."""
    return day_flags_and_bands(windows, day)[0]


def day_flags_and_bands(
    windows: npt.ArrayLike, day: date
) -> tuple[list[Flag | None], list[tuple[float, float, float]]]:
    """The flag of ``day`` for each row of ``windows``, as :func:`day_flag` gives it, and
    each row's (7-day rolling mean, 60-day baseline mean, SD) as numpy computed them (NaN
    where missing; for the roster's reasons, which print them to 3 decimals).

    A row is one athlete: ``WINDOW_DAYS`` values of ln rMSSD ending on ``day`` (oldest
    first, NaN for a day without a value). Why numpy: :func:`day_flag` costs about 0.1 ms
    per athlete, a sizeable part of a 40-player roster's 20 ms. Its sums are exactly
    rounded (``math.fsum``), numpy's may differ in the last bits (about 1e-13 here), so a
    row whose rolling mean lies within ``_EXACT_MARGIN`` of a band edge is recomputed
    with :func:`day_flag`: the roster and the HRV series never disagree on a flag.
    """
    rows = np.asarray(windows, dtype=np.float64).reshape(-1, WINDOW_DAYS)
    recent = rows[:, -ROLLING_DAYS:]
    history = rows[:, -1 - BASELINE_DAYS : -1]
    recent_n = np.count_nonzero(~np.isnan(recent), axis=1)
    history_n = np.count_nonzero(~np.isnan(history), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rolling = np.nansum(recent, axis=1) / recent_n
        centre = np.nansum(history, axis=1) / history_n
        spread = np.sqrt(np.nansum((history - centre[:, None]) ** 2, axis=1) / (history_n - 1))
        edge = np.minimum(
            np.abs(rolling - (centre - SWC_FACTOR * spread)),
            np.abs(rolling - (centre + SWC_FACTOR * spread)),
        )
    enough = (recent_n >= ROLLING_MIN_VALUES) & (history_n >= max(BASELINE_MIN_VALUES, 2))
    near = edge <= _EXACT_MARGIN * (1.0 + np.abs(centre))
    flags: list[Flag | None] = []
    for i, (ok, close) in enumerate(zip(enough.tolist(), near.tolist(), strict=True)):
        if not ok:
            flags.append(None)
        elif close:
            flags.append(day_flag(_by_day(rows[i], day), day))
        else:
            flags.append(flag(float(rolling[i]), float(centre[i]), float(spread[i])))
    bands = list(zip(rolling.tolist(), centre.tolist(), spread.tolist(), strict=True))
    return flags, bands


def _by_day(window: npt.NDArray[np.float64], day: date) -> dict[date, float]:
    """One row of :func:`day_flags` back as values by day."""
    first = day - timedelta(days=len(window) - 1)
    return {
        first + timedelta(days=i): value
        for i, value in enumerate(window.tolist())
        if not math.isnan(value)
    }


def compute_series(readings: Iterable[Reading], days: DayRange) -> list[HrvDay]:
    """One entry per day of ``days`` from readings that cover the range and the
    ``HISTORY_DAYS`` before it (readings of several sources per day are allowed)."""
    chosen = choose_daily(readings)
    ln_values = {d: r.ln_rmssd for d, r in chosen.items()}
    return [_point(chosen, ln_values, day) for day in days.days()]


def drop_check(
    day: date,
    rmssd_ms: float,
    previous: Mapping[date, float],
    *,
    window_days: int = DROP_WINDOW_DAYS,
    min_values: int = DROP_MIN_VALUES,
    threshold_pct: float = DROP_THRESHOLD_PCT,
) -> dict[str, Any] | None:
    """The HRV drop rule: the day's rMSSD is more than ``threshold_pct`` % below the mean
    of the previous ``window_days`` days' values (at least ``min_values`` of them).

    ``previous`` maps days to rMSSD in ms; only the ``window_days`` days before ``day`` are
    used. Returns the evidence ``{rule, params, inputs}`` (JSON-ready) when the rule fires,
    else None. drop_pct = 100 x (mean - value) / mean, rounded to 6 decimals, must be
    strictly above the threshold: exactly 20 % does not fire.
    """
    if day.toordinal() <= 1:
        return None
    first = days_before(day, window_days)
    used = sorted((d, v) for d, v in previous.items() if first <= d < day)
    if len(used) < min_values:
        return None
    previous_mean = mean([v for _, v in used])
    if previous_mean <= 0:
        return None
    drop_pct = round(100 * (previous_mean - rmssd_ms) / previous_mean, _DROP_DIGITS)
    if not drop_pct > threshold_pct:
        return None
    return {
        "rule": DROP_RULE,
        "params": {
            "threshold_pct": threshold_pct,
            "window_days": window_days,
            "min_values": min_values,
        },
        "inputs": {
            "date": day.isoformat(),
            "rmssd_ms": rmssd_ms,
            "previous": [{"date": d.isoformat(), "rmssd_ms": v} for d, v in used],
            "previous_mean_ms": round(previous_mean, _DROP_DIGITS),
            "drop_pct": drop_pct,
        },
    }
