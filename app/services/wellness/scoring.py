"""Morning wellness scoring, pure: items 1 to 5 where 5 is best; the flag turns on the
worst item and is raised (never lowered) by the athlete's own 28-day baseline. No
database and no service here, so the API, the roster, the reports and the alerts score an
entry the same way.

The baseline of an entry is over the athlete's entries of the ``WINDOW_DAYS`` days before
its date (the day itself excluded): per item the mean, the sample SD (n - 1) and the
entry's z = (value - mean) / sd. It needs ``MIN_ENTRIES`` entries in the window (else no
baseline), and an item ``MIN_ENTRIES`` values of its own (else its mean, sd and z are
null: an optional item given a few times has no normal yet); z is null when the sd is 0
or the entry does not give the item. Lower is worse (5 is best): z <= -2 makes the flag at
least red, z <= -1 at least amber (Smartabase and AthleteMonitoring flag z-scores against
a 4-week baseline the same way).

Rounding: mean, sd and z are reported with 2 decimals (``numpy.round``, half to even);
the flag is decided on z rounded to 6 decimals, so float noise in the sums cannot move an
entry across -1 or -2, while a z of -1.996 (shown as -2) is still only amber.

Why numpy: the roster assesses every player's entry of the day against their own window
at once (one array of shape players x 28 days x 5 items), and a member's list assesses all
its entries at once from one read of the member's days.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from app.models import WellnessLog

ITEMS = ("sleep_quality", "mood", "soreness", "stress", "fatigue")
Flag = Literal["red", "amber", "green"]

WINDOW_DAYS = 28  # the baseline covers the 28 days before the entry's day
MIN_ENTRIES = 14  # entries needed in the window for a baseline (and values for an item)
Z_RED = -2.0  # z at or below -> at least red
Z_AMBER = -1.0  # z at or below -> at least amber
DIGITS = 2  # mean, sd and z as reported
_DECIDE_DIGITS = 6  # z as compared with the thresholds

_RANK: dict[Flag, int] = {"green": 0, "amber": 1, "red": 2}

Values = Sequence[int | None]
"""One entry's items in the order of :data:`ITEMS` (None: not given)."""


@dataclass(frozen=True)
class ItemBaseline:
    mean: float | None
    sd: float | None
    z: float | None


@dataclass(frozen=True)
class Baseline:
    n: int  # entries in the window
    items: dict[str, ItemBaseline]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as the API and the alerts' evidence show it."""
        return {
            "n": self.n,
            "items": {
                item: {"mean": b.mean, "sd": b.sd, "z": b.z} for item, b in self.items.items()
            },
        }


class _Stats(NamedTuple):
    """One entry's baseline as the arrays gave it (rounded; ``known`` masks what counts),
    turned into a :class:`Baseline` only when asked: the roster needs few of them."""

    n: int
    means: list[float]
    sds: list[float]
    zs: list[float]
    known: list[bool]
    z_known: list[bool]

    def baseline(self) -> Baseline:
        return Baseline(
            self.n,
            {
                item: ItemBaseline(
                    self.means[i] if self.known[i] else None,
                    self.sds[i] if self.known[i] else None,
                    self.zs[i] if self.z_known[i] else None,
                )
                for i, item in enumerate(ITEMS)
            },
        )


@dataclass(frozen=True)
class Assessment:
    """An entry scored: total, the raised flag, why it is not green, and its baseline."""

    total: int
    flag: Flag
    reason: str | None
    items_flag: Flag  # the flag of the items alone, before the baseline raised it
    stats: _Stats | None = field(default=None, repr=False, compare=False)

    @property
    def baseline(self) -> Baseline | None:
        """Over the 28 days before the entry; None with fewer than 14 entries there."""
        return None if self.stats is None else self.stats.baseline()


def score(values: Values) -> tuple[int, Flag]:
    """Total of the items given, and the flag: red if any is 1, amber if any is 2, else green."""
    given = [v for v in values if v is not None]
    if 1 in given:
        return sum(given), "red"
    if 2 in given:
        return sum(given), "amber"
    return sum(given), "green"


def values_of(log: WellnessLog) -> list[int | None]:
    """A stored entry's items in the order of :data:`ITEMS`."""
    return [getattr(log, item) for item in ITEMS]


def score_log(log: WellnessLog) -> tuple[int, Flag]:
    """:func:`score` of a stored entry's items."""
    return score(values_of(log))


def _number(value: float) -> str:
    """A reported number in a sentence: 2 decimals at most, no trailing zeros."""
    return f"{value:.{DIGITS}f}".rstrip("0").rstrip(".")


def _reason(values: Values, items_flag: Flag, flag: Flag, baseline: Baseline | None) -> str | None:
    """The rules that set ``flag``, items in the order of :data:`ITEMS`; None when green."""
    if flag == "green":
        return None
    reasons = []
    if items_flag == flag:
        at = 1 if flag == "red" else 2
        reasons += [
            f"{item} is {at} (an item at {at} is {flag})"
            for item, value in zip(ITEMS, values, strict=True)
            if value == at
        ]
    if baseline is not None:
        limit = Z_RED if flag == "red" else Z_AMBER
        for item, value in zip(ITEMS, values, strict=True):
            b = baseline.items[item]
            if b.z is None or b.mean is None or b.sd is None or b.z > limit:
                continue
            if flag == "amber" and b.z <= Z_RED:
                continue
            reasons.append(
                f"{item} {value} is {_number(-b.z)} SD below the {WINDOW_DAYS}-day mean "
                f"{_number(b.mean)} (z <= {limit:g})"
            )
    return "; ".join(reasons) or None


def assess(entries: npt.ArrayLike, windows: npt.ArrayLike) -> list[Assessment]:
    """Each entry with its baseline, raised flag and reason, all at once.

    ``entries``: shape (k, 5), the entries' items (NaN: not given); ``windows``: shape
    (k, ``WINDOW_DAYS``, 5), each entry's days before its own (any order of days; NaN for
    a day without an entry and for an item not given).
    """
    values = np.asarray(entries, dtype=np.float64).reshape(-1, len(ITEMS))
    days = np.asarray(windows, dtype=np.float64).reshape(-1, WINDOW_DAYS, len(ITEMS))
    given = ~np.isnan(days)
    filled = np.where(given, days, 0.0)
    entry_days = given.any(axis=2).sum(axis=1)
    counts = given.sum(axis=1)  # (k, 5) values per item
    with np.errstate(invalid="ignore", divide="ignore"):
        means = filled.sum(axis=1) / counts
        deviations = np.where(given, filled - means[:, None, :], 0.0)
        sds = np.sqrt(np.einsum("kdi,kdi->ki", deviations, deviations) / (counts - 1))
        zs = (values - means) / sds
    known = (counts >= MIN_ENTRIES) & (entry_days[:, None] >= MIN_ENTRIES)
    z_known = known & (sds > 0) & ~np.isnan(values)
    worst = np.where(z_known, np.round(zs, _DECIDE_DIGITS), np.inf).min(axis=1).tolist()
    # Plain lists from here: indexing numpy arrays element by element costs more than the
    # arithmetic above for a whole team.
    rows = zip(
        np.where(np.isnan(values), -1, values).astype(np.int64).tolist(),
        entry_days.tolist(),
        np.round(means, DIGITS).tolist(),
        np.round(sds, DIGITS).tolist(),
        np.round(zs, DIGITS).tolist(),
        known.tolist(),
        z_known.tolist(),
        worst,
        strict=True,
    )
    results = []
    for row_values, n, *columns, lowest in rows:
        items: list[int | None] = [None if v < 0 else v for v in row_values]
        total, items_flag = score(items)
        if n < MIN_ENTRIES:
            reason = None if items_flag == "green" else _reason(items, items_flag, items_flag, None)
            results.append(Assessment(total, items_flag, reason, items_flag))
            continue
        stats = _Stats(n, *columns)
        by_z: Flag = "red" if lowest <= Z_RED else "amber" if lowest <= Z_AMBER else "green"
        flag = max(items_flag, by_z, key=_RANK.__getitem__)
        reason = None if flag == "green" else _reason(items, items_flag, flag, stats.baseline())
        results.append(Assessment(total, flag, reason, items_flag, stats))
    return results


def empty_windows(count: int) -> npt.NDArray[np.float64]:
    """``count`` windows without any entry, to fill in."""
    return np.full((count, WINDOW_DAYS, len(ITEMS)), np.nan)


def _row(values: Values) -> list[float]:
    return [np.nan if v is None else float(v) for v in values]


def assess_days(history: Mapping[date, Values], days: Sequence[date]) -> list[Assessment]:
    """The entries of ``days`` (which must be in ``history``) against the entries of
    ``history`` in the 28 days before each: one athlete's series, at once."""
    if not days:
        return []
    first = min(days) - timedelta(days=WINDOW_DAYS)
    span = (max(days) - first).days + 1
    series = np.full((span, len(ITEMS)), np.nan)
    for day, values in history.items():
        offset = (day - first).days
        if 0 <= offset < span:
            series[offset] = _row(values)
    starts = np.array([(day - first).days - WINDOW_DAYS for day in days], dtype=np.int64)
    windows = series[starts[:, None] + np.arange(WINDOW_DAYS)[None, :]]
    return assess([_row(history[day]) for day in days], windows)


def assess_one(values: Values, day: date, history: Iterable[tuple[date, Values]]) -> Assessment:
    """One entry of ``day`` against the entries of ``history`` (only the 28 days before
    ``day`` count)."""
    window = empty_windows(1)
    for other, other_values in history:
        back = (day - other).days
        if 1 <= back <= WINDOW_DAYS:
            window[0, WINDOW_DAYS - back] = _row(other_values)
    return assess([_row(values)], window)[0]
