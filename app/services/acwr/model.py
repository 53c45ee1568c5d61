"""Acute:chronic workload ratio (ACWR): the pure arithmetic, vectorised across athletes.

Every array here is shaped ``(athletes, days)``: one row per member, one column per calendar
day, consecutive and without gaps, a day without a load holding 0. Loops run over days (at most
a few hundred) with vector operations across athletes, never over athletes in Python, so a whole
team, or every team, is recomputed in one pass.

Conventions shared by all functions (see ``API.md``, "Loads and ACWR"):

* ``first`` (int64, one per athlete) is the column of the athlete's ``d0``, their first day
  with a load, counted from column 0 of the array it is passed with. It may be negative (``d0``
  lies before the array) and it may be beyond the last column; :data:`NO_D0` (a huge positive
  value) marks an athlete with no load at all, which every function treats as "``d0`` has not
  come yet".
* History: the rolling ratios and the coverage look back ``chronic_days - 1`` days before the
  first day they answer for. They take an array whose first ``start_index`` columns are that
  history (``start_index >= chronic_days - 1``) and answer for columns ``start_index`` to the
  end. The EWMAs instead carry their whole past in one number per athlete, so :func:`ewma`
  continues from a stored value of the day before column 0 (``prev``) and its cost is
  proportional to the days after it.

Zones describe load spikes relative to what an athlete is used to; they are not injury
predictions.

Pure: no I/O and no database. Storing and reading snapshots is the job of
:mod:`app.services.acwr.engine` and :mod:`app.services.acwr.reads`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]

NO_D0: Final[int] = int(np.iinfo(np.int64).max)
"""``first`` value of an athlete who has no load yet: their ``d0`` lies after every column."""

METHODS: Final = ("williams", "half_life")

INSUFFICIENT_DATA: Final = "insufficient_data"
DANGER: Final = "danger"
HIGH: Final = "high"
LOW: Final = "low"
OPTIMAL: Final = "optimal"

_ZONE_LABELS: Final = np.array([OPTIMAL, LOW, HIGH, DANGER, INSUFFICIENT_DATA])

MIN_COVERAGE: Final = 0.9
"""Below this share of attended sessions with an sRPE the loads are too incomplete to judge."""


@dataclass(frozen=True)
class AcwrParams:
    """A team's ACWR settings, validated like the API validates them."""

    method: str = "williams"
    acute_days: int = 7
    chronic_days: int = 28
    low: float = 0.8
    high: float = 1.3
    danger: float = 1.4

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown ACWR method {self.method!r}")
        if not 1 <= self.acute_days < self.chronic_days:
            raise ValueError("need 1 <= acute_days < chronic_days")
        if not 0 < self.low < self.high <= self.danger:
            raise ValueError("need 0 < low < high <= danger")

    @property
    def alpha_acute(self) -> float:
        return alpha(self.method, self.acute_days)

    @property
    def alpha_chronic(self) -> float:
        return alpha(self.method, self.chronic_days)


def alpha(method: str, n: int) -> float:
    """The EWMA smoothing factor for a window of ``n`` days.

    ``williams``: ``2 / (N + 1)``, the factor of Williams et al. 2017, whose centre of mass
    matches an N-day rolling mean. ``half_life``: ``1 - exp(ln(0.5) / N)``, so that a day's
    weight halves every ``N`` days.
    """
    if n < 1:
        raise ValueError("an EWMA window must be at least one day")
    if method == "williams":
        return 2.0 / (n + 1)
    if method == "half_life":
        return 1.0 - math.exp(math.log(0.5) / n)
    raise ValueError(f"unknown ACWR method {method!r}")


def _loads_2d(loads: npt.ArrayLike, name: str = "loads") -> FloatArray:
    array = np.asarray(loads, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be shaped (athletes, days)")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite; a day without a load is 0")
    return array


def _first_1d(first: npt.ArrayLike, athletes: int) -> IntArray:
    array = np.asarray(first, dtype=np.int64)
    if array.shape != (athletes,):
        raise ValueError("first must hold one column index per athlete")
    return array


def _check_history(start_index: int, chronic_days: int, days: int) -> None:
    if chronic_days < 1:
        raise ValueError("chronic_days must be at least 1")
    if start_index < chronic_days - 1:
        raise ValueError(
            f"start_index={start_index}: the array must begin with chronic_days - 1 = "
            f"{chronic_days - 1} days of history before the first day answered for"
        )
    if start_index > days:
        raise ValueError("start_index lies beyond the last column")


def first_load_index(has_load: npt.ArrayLike) -> IntArray:
    """Column of each athlete's first ``True`` (their ``d0``), :data:`NO_D0` when none.

    What counts as "a day with a load" is the caller's decision (e.g. a day with a stored
    daily-load row or with a load above 0); this only finds the first one.
    """
    mask = np.asarray(has_load, dtype=np.bool_)
    if mask.ndim != 2:
        raise ValueError("has_load must be shaped (athletes, days)")
    if mask.shape[1] == 0:
        return np.full(mask.shape[0], NO_D0, dtype=np.int64)
    found = mask.any(axis=1)
    index = mask.argmax(axis=1).astype(np.int64)
    return np.where(found, index, np.int64(NO_D0))


def days_since_d0(first: npt.ArrayLike, days: int, start_index: int = 0) -> IntArray:
    """Days from ``d0`` to each column, both ends counted (``t - d0 + 1``): 1 on ``d0``.

    Zero or negative before ``d0`` (and for athletes without one). Shaped
    ``(athletes, days - start_index)``, for columns ``start_index`` to ``days - 1``.
    """
    starts = np.asarray(first, dtype=np.int64)
    if starts.ndim != 1:
        raise ValueError("first must hold one column index per athlete")
    # Clipping keeps NO_D0 (and any d0 after the window) from overflowing; all such rows
    # are "before d0" on every column either way.
    starts = np.minimum(starts, np.int64(days))
    columns = np.arange(start_index, days, dtype=np.int64)
    result: IntArray = columns[np.newaxis, :] - starts[:, np.newaxis] + 1
    return result


def ewma(
    loads: npt.ArrayLike,
    first: npt.ArrayLike,
    alpha: float,
    prev: npt.ArrayLike | None = None,
) -> FloatArray:
    """Exponentially weighted moving average of each athlete's daily loads.

    On ``d0`` the average equals that day's load; after it ``e_t = a * x_t + (1 - a) * e_{t-1}``;
    before it NaN (the API's null). Seeding with the first load rather than with 0 is what
    reproduces the ratios published by Williams et al. 2017, and keeps an athlete's first weeks
    from looking like a spike against an artificially low chronic average.

    ``first[i]`` is the column of athlete ``i``'s ``d0``. When ``d0`` lies before column 0 (a
    negative ``first[i]``), ``prev[i]`` must be that athlete's average on the day before column
    0, e.g. a stored snapshot, and the series continues from it; otherwise ``prev[i]`` must be
    NaN (or ``prev`` left out). Splitting a series at any column and continuing from the last
    value of the first part gives the same numbers as one pass, so a recompute after a write on
    day D can start from the snapshot of D - 1 and costs only the days after D.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError("alpha must lie in (0, 1]")
    values = _loads_2d(loads)
    athletes, days = values.shape
    starts = _first_1d(first, athletes)
    if prev is None:
        state = np.full(athletes, np.nan, dtype=np.float64)
    else:
        state = np.array(prev, dtype=np.float64)
        if state.shape != (athletes,):
            raise ValueError("prev must hold one value per athlete")
    started = np.isfinite(state)
    if np.any(started != (starts < 0)):
        raise ValueError(
            "prev must be given (finite) exactly for the athletes whose d0 lies before column 0"
        )

    # Work on (days, athletes) so that each step reads and writes contiguous memory.
    by_day = np.ascontiguousarray(values.T)
    out = np.empty_like(by_day)
    keep = 1.0 - alpha
    for t in range(days):
        x = by_day[t]
        # NaN before d0 stays NaN through the recurrence; on d0 the load seeds the average.
        state = np.where(starts == t, x, alpha * x + keep * state)
        out[t] = state
    result: FloatArray = np.ascontiguousarray(out.T)
    return result


def ratio(acute: npt.ArrayLike, chronic: npt.ArrayLike) -> FloatArray:
    """``acute / chronic``; NaN where either is NaN or the chronic average is 0."""
    numerator = np.asarray(acute, dtype=np.float64)
    denominator = np.asarray(chronic, dtype=np.float64)
    numerator, denominator = np.broadcast_arrays(numerator, denominator)
    result: FloatArray = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=result, where=denominator != 0.0)
    return result


def _window_sums(cumulative: FloatArray, last: int, width: int, count: int) -> FloatArray:
    """Sums of the ``width`` days ending at columns ``last``, ``last + 1``, ... (``count`` of them).

    ``cumulative`` carries a leading zero column. A window of zeros sums to exactly 0 (adding 0
    leaves a float unchanged), so a zero denominator is detected exactly.
    """
    upper = last + 1
    result: FloatArray = (
        cumulative[:, upper : upper + count] - cumulative[:, upper - width : upper - width + count]
    )
    return result


class RollingRatios(NamedTuple):
    coupled: FloatArray
    uncoupled: FloatArray


def rolling_ratios(
    loads: npt.ArrayLike,
    first: npt.ArrayLike,
    acute_days: int,
    chronic_days: int,
    start_index: int,
) -> RollingRatios:
    """Rolling-average ACWRs, coupled and uncoupled, for columns ``start_index`` onwards.

    ``loads`` holds the history first: columns ``0 .. start_index - 1`` are the days before the
    first day answered for, at least ``chronic_days - 1`` of them (days before ``d0`` are 0).
    ``first`` is relative to column 0 of ``loads``.

    ``coupled`` = mean load of the last ``acute_days`` days / mean of the last
    ``chronic_days`` days (the acute window is part of the chronic one). ``uncoupled`` = the
    same acute mean / mean of the ``chronic_days - acute_days`` days before the acute window,
    which removes that mathematical coupling. Both are NaN until ``chronic_days`` days (both
    ends counted) have passed since ``d0`` and where their denominator is 0.

    Cumulative sums make every day O(1) regardless of the window length.
    """
    if not 1 <= acute_days < chronic_days:
        raise ValueError("need 1 <= acute_days < chronic_days")
    values = _loads_2d(loads)
    athletes, days = values.shape
    starts = _first_1d(first, athletes)
    _check_history(start_index, chronic_days, days)

    cumulative = np.concatenate([np.zeros((athletes, 1)), np.cumsum(values, axis=1)], axis=1)
    count = days - start_index
    acute_sum = _window_sums(cumulative, start_index, acute_days, count)
    chronic_sum = _window_sums(cumulative, start_index, chronic_days, count)
    # The days of the chronic window before the acute one.
    before_sum = _window_sums(
        cumulative, start_index - acute_days, chronic_days - acute_days, count
    )

    acute_mean = acute_sum / acute_days
    coupled = ratio(acute_mean, chronic_sum / chronic_days)
    uncoupled = ratio(acute_mean, before_sum / (chronic_days - acute_days))
    enough = days_since_d0(starts, days, start_index) >= chronic_days
    return RollingRatios(
        coupled=np.where(enough, coupled, np.nan),
        uncoupled=np.where(enough, uncoupled, np.nan),
    )


def coverage(
    attended: npt.ArrayLike,
    with_srpe: npt.ArrayLike,
    chronic_days: int,
    start_index: int | None = None,
) -> FloatArray:
    """Share of attended sessions in the last ``chronic_days`` days that have an sRPE.

    ``attended[i, t]`` counts the sessions of day ``t`` that athlete ``i`` attended (``PRESENT``
    or ``LATE``), ``with_srpe[i, t]`` how many of those have an sRPE. The window of day ``t``
    is ``[t - chronic_days + 1, t]``. A missing sRPE counts as 0 load in the averages, which
    would read as rest; coverage makes that visible. 1.0 when nothing was attended.

    History as in :func:`rolling_ratios`: columns before ``start_index`` (default
    ``chronic_days - 1``) are the look-back; the answer covers ``start_index`` onwards.
    """
    if start_index is None:
        start_index = chronic_days - 1
    went = np.asarray(attended, dtype=np.int64)
    rated = np.asarray(with_srpe, dtype=np.int64)
    if went.ndim != 2 or went.shape != rated.shape:
        raise ValueError("attended and with_srpe must be equally shaped (athletes, days)")
    if np.any(rated < 0) or np.any(rated > went):
        raise ValueError("need 0 <= with_srpe <= attended on every day")
    athletes, days = went.shape
    _check_history(start_index, chronic_days, days)

    zero_column = np.zeros((athletes, 1), dtype=np.int64)
    went_cum = np.concatenate([zero_column, np.cumsum(went, axis=1)], axis=1)
    rated_cum = np.concatenate([zero_column, np.cumsum(rated, axis=1)], axis=1)
    upper = slice(start_index + 1, days + 1)
    lower = slice(start_index + 1 - chronic_days, days + 1 - chronic_days)
    went_sum = went_cum[:, upper] - went_cum[:, lower]
    rated_sum = rated_cum[:, upper] - rated_cum[:, lower]
    result: FloatArray = np.ones(went_sum.shape)
    np.divide(rated_sum, went_sum, out=result, where=went_sum != 0)
    return result


def zone(
    ratio: npt.ArrayLike,
    days_since_d0_inclusive: npt.ArrayLike,
    coverage: npt.ArrayLike,
    chronic_days: int,
    low: float,
    high: float,
    danger: float,
) -> StrArray:
    """Label each day with its load zone.

    ``insufficient_data`` while fewer than ``chronic_days`` days (both ends counted) lie between
    ``d0`` and the day, when the ratio is NaN, or when coverage is below 0.9 (the loads are
    too incomplete to judge). Otherwise ``danger`` above ``danger``, ``high`` above ``high``,
    ``low`` below ``low``, else ``optimal``; the comparisons are strict, so a ratio exactly at
    ``high`` is optimal and one exactly at ``danger`` is high.

    A zone flags a spike (or drop) in load against what the athlete is used to; it is not an
    injury prediction.
    """
    values = np.asarray(ratio, dtype=np.float64)
    since = np.asarray(days_since_d0_inclusive, dtype=np.int64)
    share = np.asarray(coverage, dtype=np.float64)
    values, since, share = np.broadcast_arrays(values, since, share)
    # Codes index _ZONE_LABELS; later assignments win, so the order sets the precedence.
    codes = np.zeros(values.shape, dtype=np.int8)  # optimal
    codes[values < low] = 1
    codes[values > high] = 2
    codes[values > danger] = 3
    codes[(since < chronic_days) | np.isnan(values) | ~(share >= MIN_COVERAGE)] = 4
    labels: StrArray = _ZONE_LABELS[codes]
    return labels


@dataclass(frozen=True)
class AcwrSeries:
    """Every figure of the ACWR points, shaped ``(athletes, days answered for)``."""

    load: FloatArray
    acute: FloatArray
    chronic: FloatArray
    ratio: FloatArray
    ratio_coupled: FloatArray
    ratio_uncoupled: FloatArray
    coverage: FloatArray
    days_since_d0: IntArray
    zone: StrArray


def compute_series(
    loads: npt.ArrayLike,
    first: npt.ArrayLike,
    attended: npt.ArrayLike,
    with_srpe: npt.ArrayLike,
    params: AcwrParams,
    start_index: int,
    prev_acute: npt.ArrayLike | None = None,
    prev_chronic: npt.ArrayLike | None = None,
) -> AcwrSeries:
    """All ACWR figures for columns ``start_index`` onwards, in one call.

    ``loads``, ``attended`` and ``with_srpe`` share one layout: ``start_index`` history columns
    (at least ``chronic_days - 1``), then the days answered for; ``first`` is relative to column
    0. The EWMAs either continue from ``prev_acute``/``prev_chronic``, the averages on the day
    before column ``start_index`` (NaN for athletes whose ``d0`` is not before it), or, when
    those are left out, run from column 0, which then must not lie after any athlete's ``d0``.
    """
    values = _loads_2d(loads)
    athletes, days = values.shape
    starts = _first_1d(first, athletes)
    _check_history(start_index, params.chronic_days, days)
    if (prev_acute is None) != (prev_chronic is None):
        raise ValueError("give both prev_acute and prev_chronic, or neither")

    if prev_acute is None:
        acute = ewma(values, starts, params.alpha_acute)[:, start_index:]
        chronic = ewma(values, starts, params.alpha_chronic)[:, start_index:]
    else:
        window = values[:, start_index:]
        shifted = np.where(starts == NO_D0, starts, starts - start_index)
        acute = ewma(window, shifted, params.alpha_acute, prev_acute)
        chronic = ewma(window, shifted, params.alpha_chronic, prev_chronic)

    ewma_ratio = ratio(acute, chronic)
    rolling = rolling_ratios(values, starts, params.acute_days, params.chronic_days, start_index)
    share = coverage(attended, with_srpe, params.chronic_days, start_index)
    if share.shape != acute.shape:
        raise ValueError("attended and with_srpe must be shaped like loads")
    since = days_since_d0(starts, days, start_index)
    labels = zone(
        ewma_ratio, since, share, params.chronic_days, params.low, params.high, params.danger
    )
    return AcwrSeries(
        load=values[:, start_index:],
        acute=acute,
        chronic=chronic,
        ratio=ewma_ratio,
        ratio_coupled=rolling.coupled,
        ratio_uncoupled=rolling.uncoupled,
        coverage=share,
        days_since_d0=since,
        zone=labels,
    )
