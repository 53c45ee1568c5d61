"""HRV arithmetic against hand-computed values: windows, minimum counts, bands, the drop rule."""

import math
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from app.models import HrvSource
from app.services.hrv.baseline import (
    baseline,
    choose_daily,
    choose_value,
    compute_series,
    drop_check,
    flag,
    rolling_mean,
    sample_sd,
)
from app.services.platform.days import DayRange

DAY = date(2026, 3, 31)
T0 = datetime(2026, 3, 31, 7, 0, tzinfo=UTC)


@dataclass(frozen=True)
class R:
    """A stored reading as the pure functions see it."""

    id: int
    date: date
    source: HrvSource
    rmssd_ms: float
    updated_at: datetime = T0

    @property
    def ln_rmssd(self) -> float:
        return math.log(self.rmssd_ms)


def back(days: int) -> date:
    return DAY - timedelta(days=days)


# --- rolling mean -----------------------------------------------------------------------


def test_rolling_needs_three_values_in_the_seven_days() -> None:
    two = {back(0): 4.0, back(6): 3.0}
    assert rolling_mean(two, DAY) is None
    three = {**two, back(3): 3.5}
    assert rolling_mean(three, DAY) == pytest.approx((4.0 + 3.0 + 3.5) / 3)


def test_rolling_window_is_the_seven_days_ending_on_the_day() -> None:
    # back(7) lies outside the window; the day itself lies inside it.
    values = {back(7): 100.0, back(6): 3.0, back(1): 4.0, back(0): 5.0}
    assert rolling_mean(values, DAY) == pytest.approx(4.0)
    # no value on the day itself is fine as long as 3 values fall in the window
    assert rolling_mean({back(1): 3.0, back(2): 4.0, back(5): 8.0}, DAY) == pytest.approx(5.0)
    # a day after the series ended: only back(0) is left in its window
    assert rolling_mean(values, DAY + timedelta(days=6)) is None


# --- baseline ---------------------------------------------------------------------------


def thirteen_plus(extra: float | None) -> dict[date, float]:
    """13 values on days 1..13 before DAY (ln values 4.0, 4.1, ...), and optionally a 14th
    60 days before DAY, the window's first day."""
    values = {back(i): 4.0 + 0.1 * (i - 1) for i in range(1, 14)}
    if extra is not None:
        values[back(60)] = extra
    return values


def test_baseline_needs_fourteen_values_in_the_sixty_days_before() -> None:
    assert baseline(thirteen_plus(None), DAY) is None
    fourteen = thirteen_plus(3.0)
    result = baseline(fourteen, DAY)
    assert result is not None
    expected = list(fourteen.values())
    assert result[0] == pytest.approx(statistics.fmean(expected))
    assert result[1] == pytest.approx(statistics.stdev(expected))


def test_baseline_excludes_the_day_and_days_beyond_sixty() -> None:
    values = thirteen_plus(None)
    values[DAY] = 9.0  # the day itself: not part of its own baseline
    values[back(61)] = 9.0  # 61 days before: outside the window
    assert baseline(values, DAY) is None
    # one day later back(60) + 1 ... the day itself enters the next day's baseline
    later = baseline(values, DAY + timedelta(days=1))
    assert later is not None
    inside = [v for d, v in values.items() if d != back(61)]
    assert later[0] == pytest.approx(statistics.fmean(inside))


def test_sample_sd_uses_n_minus_one() -> None:
    values = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]
    # mean 5, sum of squared deviations 32: population SD 2, sample SD sqrt(32 / 7)
    assert sample_sd(values) == pytest.approx(math.sqrt(32 / 7))
    assert sample_sd(values) == pytest.approx(statistics.stdev(values))
    assert sample_sd(values) != pytest.approx(statistics.pstdev(values))
    with pytest.raises(ValueError):
        sample_sd([1.0])


def test_baseline_sd_is_zero_for_a_constant_history() -> None:
    values = {back(i): 4.0 for i in range(1, 15)}
    assert baseline(values, DAY) == (4.0, 0.0)


# --- flag -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rolling", "expected"),
    [
        (3.7499, "below"),
        (3.75, "normal"),  # exactly mean - 0.5 x SD: on the band, not below it
        (4.0, "normal"),
        (4.25, "normal"),  # exactly mean + 0.5 x SD
        (4.2501, "above"),
    ],
)
def test_flag_band_edges_are_normal(rolling: float, expected: str) -> None:
    # mean 4.0, SD 0.5: the band is [3.75, 4.25], all exactly representable
    assert flag(rolling, 4.0, 0.5) == expected


def test_flag_is_null_when_either_side_is() -> None:
    assert flag(None, 4.0, 0.5) is None
    assert flag(4.0, None, None) is None


def test_flag_with_zero_sd() -> None:
    assert flag(4.0, 4.0, 0.0) == "normal"
    assert flag(3.99, 4.0, 0.0) == "below"


@pytest.mark.parametrize("rmssd", [20 + i * 0.7 for i in range(150)])
def test_the_same_value_every_day_is_normal(rmssd: float) -> None:
    """Means of 7 and of 60 equal values can differ in the last bit; that is no change."""
    values = {back(i): math.log(rmssd) for i in range(0, 61)}
    base = baseline(values, DAY)
    assert base is not None
    assert flag(rolling_mean(values, DAY), *base) == "normal"


# --- choosing the day's value -----------------------------------------------------------


def test_a_device_wins_over_manual_whatever_the_update_order() -> None:
    manual = R(1, DAY, HrvSource.MANUAL, 80.0, T0 + timedelta(hours=5))
    whoop = R(2, DAY, HrvSource.WHOOP, 60.0, T0)
    assert choose_value([manual, whoop]) is whoop
    assert choose_value([whoop, manual]) is whoop
    assert choose_value([manual]) is manual
    assert choose_value([]) is None


def test_of_two_devices_the_most_recently_updated_wins() -> None:
    whoop = R(1, DAY, HrvSource.WHOOP, 60.0, T0)
    oura = R(2, DAY, HrvSource.OURA, 70.0, T0 + timedelta(minutes=1))
    manual = R(3, DAY, HrvSource.MANUAL, 80.0, T0 + timedelta(hours=1))
    assert choose_value([whoop, oura, manual]) is oura
    newer_whoop = R(1, DAY, HrvSource.WHOOP, 61.0, T0 + timedelta(minutes=2))
    assert choose_value([oura, newer_whoop, manual]) is newer_whoop


def test_of_two_devices_updated_at_once_whoop_wins() -> None:
    whoop = R(2, DAY, HrvSource.WHOOP, 60.0, T0)
    oura = R(1, DAY, HrvSource.OURA, 70.0, T0)
    assert choose_value([oura, whoop]) is whoop


def test_choose_daily_keeps_one_value_per_day() -> None:
    rows = [
        R(1, back(1), HrvSource.MANUAL, 50.0),
        R(2, back(0), HrvSource.MANUAL, 80.0),
        R(3, back(0), HrvSource.OURA, 60.0),
    ]
    chosen = choose_daily(rows)
    assert {d: r.rmssd_ms for d, r in chosen.items()} == {back(1): 50.0, back(0): 60.0}


def test_series_uses_the_device_value_throughout() -> None:
    """rolling and baseline take the chosen value, never an average over sources."""
    rows = [R(i, back(i), HrvSource.MANUAL, 50.0) for i in range(1, 20)]
    rows += [R(100, back(2), HrvSource.WHOOP, 100.0), R(101, back(0), HrvSource.MANUAL, 50.0)]
    (point,) = compute_series(rows, DayRange(DAY, DAY))
    window = [math.log(50.0)] * 6 + [math.log(100.0)]  # back(0..6), back(2) by WHOOP
    assert point.rolling7_ln_mean == pytest.approx(statistics.fmean(window))
    history = [math.log(100.0) if i == 2 else math.log(50.0) for i in range(1, 20)]
    assert point.baseline_ln_mean == pytest.approx(statistics.fmean(history))
    assert point.baseline_ln_sd == pytest.approx(statistics.stdev(history))
    assert point.rmssd_ms == 50.0
    assert point.ln_rmssd == pytest.approx(math.log(50.0))


def test_series_has_one_entry_per_day_with_nulls() -> None:
    points = compute_series([], DayRange(back(2), DAY))
    assert [p.date for p in points] == [back(2), back(1), back(0)]
    assert all(
        (p.rmssd_ms, p.ln_rmssd, p.rolling7_ln_mean, p.baseline_ln_mean, p.flag)
        == (None, None, None, None, None)
        for p in points
    )


def test_first_representable_day_does_not_overflow() -> None:
    first = date.min
    rows = [R(1, first, HrvSource.MANUAL, 50.0)]
    (point,) = compute_series(rows, DayRange(first, first))
    assert (point.rmssd_ms, point.baseline_ln_mean) == (50.0, None)
    assert drop_check(first, 10.0, {}) is None


# --- the drop rule ----------------------------------------------------------------------


def test_drop_of_exactly_twenty_percent_does_not_fire() -> None:
    previous = {back(1): 100.0, back(2): 100.0, back(3): 100.0}
    assert drop_check(DAY, 80.0, previous) is None


def test_drop_of_twenty_point_one_percent_fires_with_its_evidence() -> None:
    previous = {back(3): 100.0, back(1): 100.0, back(2): 100.0}
    evidence = drop_check(DAY, 79.9, previous)
    assert evidence is not None
    assert evidence["rule"] == "hrv_drop"
    assert evidence["params"] == {"threshold_pct": 20.0, "window_days": 7, "min_values": 3}
    inputs = evidence["inputs"]
    assert inputs["date"] == DAY.isoformat()
    assert inputs["rmssd_ms"] == 79.9
    assert inputs["previous"] == [
        {"date": back(3).isoformat(), "rmssd_ms": 100.0},
        {"date": back(2).isoformat(), "rmssd_ms": 100.0},
        {"date": back(1).isoformat(), "rmssd_ms": 100.0},
    ]
    assert inputs["previous_mean_ms"] == 100.0
    assert inputs["drop_pct"] == pytest.approx(20.1)


def test_exactly_twenty_percent_with_an_inexact_mean_does_not_fire() -> None:
    # mean (41.4 + 63.2 + 55.9) / 3 = 53.5 and 80 % of it is 42.8, but in floats
    # 100 x (mean - 42.8) / mean comes out as 20.000000000000004
    previous = {back(1): 41.4, back(2): 63.2, back(3): 55.9}
    mean = math.fsum(previous.values()) / 3
    assert 100 * (mean - 42.8) / mean > 20  # the float noise the rule must not trip on
    assert drop_check(DAY, 42.8, previous) is None
    evidence = drop_check(DAY, 42.79, previous)
    assert evidence is not None
    assert evidence["inputs"]["previous_mean_ms"] == 53.5
    assert evidence["inputs"]["drop_pct"] == pytest.approx(20.018692, abs=1e-6)


def test_drop_needs_three_previous_values() -> None:
    two = {back(1): 100.0, back(7): 100.0}
    assert drop_check(DAY, 10.0, two) is None
    three = {**two, back(4): 100.0}
    evidence = drop_check(DAY, 10.0, three)
    assert evidence is not None
    assert evidence["inputs"]["drop_pct"] == pytest.approx(90.0)


def test_drop_uses_only_the_seven_days_before() -> None:
    # back(8) is outside the window and the day itself is not a "previous" value
    values = {back(8): 100.0, back(1): 100.0, back(2): 100.0, DAY: 100.0}
    assert drop_check(DAY, 10.0, values) is None
    values[back(7)] = 40.0
    evidence = drop_check(DAY, 10.0, values)
    assert evidence is not None
    assert [p["date"] for p in evidence["inputs"]["previous"]] == [
        back(7).isoformat(),
        back(2).isoformat(),
        back(1).isoformat(),
    ]
    assert evidence["inputs"]["previous_mean_ms"] == pytest.approx(80.0)
    assert evidence["inputs"]["drop_pct"] == pytest.approx(87.5)


def test_a_rise_does_not_fire() -> None:
    previous = {back(1): 50.0, back(2): 50.0, back(3): 50.0}
    assert drop_check(DAY, 90.0, previous) is None
