"""Weekly load summaries: ISO weeks, sample SD, monotony, strain and week-on-week change."""

import statistics
from datetime import date, timedelta

import pytest

from app.services.loads.summary import (
    WeekSummary,
    iso_week_label,
    loads_needed,
    weekly_summary,
    widen_to_iso_weeks,
)

MONDAY = date(2026, 11, 16)  # 2026-W47


def week_of(monday: date, values: list[float]) -> dict[date, float]:
    return {monday + timedelta(days=i): v for i, v in enumerate(values) if v}


def test_iso_week_labels_across_the_year_boundary() -> None:
    for day in [date(2026, 12, 27), date(2026, 12, 28), date(2027, 1, 3), date(2027, 1, 4)]:
        iso = day.isocalendar()
        assert iso_week_label(day) == f"{iso.year}-W{iso.week:02d}"
    assert iso_week_label(date(2026, 12, 28)) == "2026-W53"
    assert iso_week_label(date(2027, 1, 1)) == "2026-W53"
    assert iso_week_label(date(2027, 1, 4)) == "2027-W01"
    assert iso_week_label(MONDAY) == "2026-W47"


def test_widen_to_iso_weeks() -> None:
    assert widen_to_iso_weeks(date(2026, 11, 18), date(2026, 11, 18)) == (
        date(2026, 11, 16),
        date(2026, 11, 22),
    )
    assert widen_to_iso_weeks(date(2026, 11, 16), date(2026, 11, 22)) == (
        date(2026, 11, 16),
        date(2026, 11, 22),
    )
    assert widen_to_iso_weeks(date(2026, 12, 31), date(2027, 1, 4)) == (
        date(2026, 12, 28),
        date(2027, 1, 10),
    )
    assert loads_needed(date(2026, 11, 18), date(2026, 11, 30)) == (
        date(2026, 11, 9),
        date(2026, 12, 6),
    )
    with pytest.raises(ValueError):
        widen_to_iso_weeks(date(2026, 11, 18), date(2026, 11, 17))


def test_weeks_across_the_year_boundary() -> None:
    weeks = weekly_summary({}, date(2026, 12, 24), date(2027, 1, 5))
    assert [w.week for w in weeks] == ["2026-W52", "2026-W53", "2027-W01"]


def test_monotony_and_strain_use_the_sample_sd() -> None:
    values = [300.0, 0.0, 450.0, 600.0, 0.0, 720.0, 200.0]
    (week,) = weekly_summary(week_of(MONDAY, values), MONDAY, MONDAY + timedelta(days=6))
    total = sum(values)
    sd = statistics.stdev(values)
    assert week.week == "2026-W47"
    assert week.total_au == total
    assert week.mean_au == pytest.approx(total / 7, rel=1e-15)
    assert week.sd_au == pytest.approx(sd, rel=1e-14)
    assert week.sd_au != pytest.approx(statistics.pstdev(values), rel=1e-6)
    assert week.monotony == pytest.approx((total / 7) / sd, rel=1e-14)
    assert week.strain == pytest.approx(total * (total / 7) / sd, rel=1e-14)


def test_rest_days_count_as_zero() -> None:
    (week,) = weekly_summary({MONDAY: 700.0}, MONDAY, MONDAY)
    assert week.mean_au == 100.0
    assert week.sd_au == pytest.approx(statistics.stdev([700.0] + [0.0] * 6), rel=1e-14)


# 0.47: seven of them sum and divide back to 0.47000000000000003, so a plain two-pass SD
# would be a rounding residue, not 0.
@pytest.mark.parametrize("load", [0.0, 350.0, 0.47])
def test_equal_loads_have_no_monotony(load: float) -> None:
    (week,) = weekly_summary(week_of(MONDAY, [load] * 7), MONDAY, MONDAY)
    assert week.sd_au == 0.0
    assert week.monotony is None
    assert week.strain is None


def test_change_pct_against_the_week_before_the_range() -> None:
    loads = week_of(MONDAY - timedelta(days=7), [100.0, 100.0, 0, 0, 0, 0, 0])
    loads |= week_of(MONDAY, [250.0, 0, 0, 0, 0, 0, 0])
    loads |= week_of(MONDAY + timedelta(days=7), [0.0] * 7)
    loads |= week_of(MONDAY + timedelta(days=14), [80.0] + [0.0] * 6)
    weeks = weekly_summary(loads, MONDAY + timedelta(days=3), MONDAY + timedelta(days=15))
    assert [w.week for w in weeks] == ["2026-W47", "2026-W48", "2026-W49"]
    assert weeks[0].change_pct == pytest.approx(25.0, rel=1e-15)  # 200 -> 250
    assert weeks[1].change_pct == pytest.approx(-100.0, rel=1e-15)  # 250 -> 0
    assert weeks[2].change_pct is None  # 0 -> 80: previous total 0


def test_change_pct_none_when_nothing_the_week_before() -> None:
    (week,) = weekly_summary(week_of(MONDAY, [500.0] * 7), MONDAY, MONDAY)
    assert week.change_pct is None


def test_pairs_of_one_day_add_up_and_are_frozen() -> None:
    pairs = [(MONDAY, 200.0), (MONDAY, 150.0), (MONDAY + timedelta(days=1), 50.0)]
    (week,) = weekly_summary(pairs, MONDAY, MONDAY)
    assert isinstance(week, WeekSummary)
    assert week.total_au == 400.0
    with pytest.raises(AttributeError):
        week.total_au = 1.0  # type: ignore[misc]


def test_planned_au_sums_the_weeks_planned_days_and_is_null_without_any() -> None:
    """Monday 585 and Thursday 338 planned in W47, a planned 0 (a rest plan) in W48, nothing
    planned in W49: 923, 0 and null. A plan outside the range's weeks is not counted."""
    planned = {
        MONDAY: 585,
        MONDAY + timedelta(days=3): 338,
        MONDAY + timedelta(days=8): 0,
        MONDAY - timedelta(days=1): 700,
    }
    weeks = weekly_summary({}, MONDAY, MONDAY + timedelta(days=20), planned)
    assert [(w.week, w.planned_au) for w in weeks] == [
        ("2026-W47", 923),
        ("2026-W48", 0),
        ("2026-W49", None),
    ]
    assert weekly_summary({}, MONDAY, MONDAY)[0].planned_au is None  # no plan given
