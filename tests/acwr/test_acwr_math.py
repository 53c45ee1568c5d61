"""ACWR arithmetic against hand-computed values and independent pandas oracles."""

import math

import numpy as np
import pandas as pd
import pytest

from app.services.acwr.model import (
    NO_D0,
    AcwrParams,
    alpha,
    compute_series,
    coverage,
    days_since_d0,
    ewma,
    first_load_index,
    ratio,
    rolling_ratios,
    zone,
)

METHOD_ALPHAS = [("williams", 7), ("williams", 28), ("half_life", 7), ("half_life", 28)]


def random_loads(rng: np.random.Generator, firsts: list[int], days: int) -> np.ndarray:
    """Integer sRPE-like loads with rest days; 0 before each athlete's d0, a load on d0."""
    loads = rng.integers(0, 900, size=(len(firsts), days)).astype(np.float64)
    loads[rng.random(loads.shape) < 0.3] = 0.0
    for row, first in enumerate(firsts):
        if first >= days:
            loads[row] = 0.0
        else:
            loads[row, :first] = 0.0
            loads[row, first] = rng.integers(1, 900)
    return loads


# --- alpha -------------------------------------------------------------------------------


def test_alpha_williams() -> None:
    assert alpha("williams", 7) == 0.25
    assert alpha("williams", 28) == pytest.approx(2 / 29, rel=1e-15)


def test_alpha_half_life_halves_weight_every_n_days() -> None:
    a = alpha("half_life", 7)
    assert a == pytest.approx(0.09427633573609333, rel=1e-12)
    assert (1 - a) ** 7 == pytest.approx(0.5, rel=1e-12)


def test_alpha_rejects_unknown_method_and_bad_window() -> None:
    with pytest.raises(ValueError):
        alpha("rolling", 7)
    with pytest.raises(ValueError):
        alpha("williams", 0)


# --- ewma: hand-computed -----------------------------------------------------------------


def test_ewma_williams_by_hand() -> None:
    loads = np.array([[100.0, 0.0, 200.0]])
    acute = ewma(loads, np.array([0]), alpha("williams", 7))
    np.testing.assert_allclose(acute, [[100.0, 75.0, 106.25]], rtol=0, atol=1e-12)
    chronic = ewma(loads, np.array([0]), alpha("williams", 28))
    # 100; 100 * 27/29; (2 * 200 + 27 * 2700/29) / 29 = 84500/841.
    np.testing.assert_allclose(
        chronic, [[100.0, 93.10344827586206897, 100.4756242568370987]], rtol=1e-14
    )


def test_ewma_half_life_by_hand() -> None:
    loads = np.array([[100.0, 0.0, 200.0]])
    # q = 2^(-1/N): 100; 100 q; 200 (1 - q) + 100 q^2.
    acute = ewma(loads, np.array([0]), alpha("half_life", 7))
    np.testing.assert_allclose(
        acute, [[100.0, 90.57236642639066716, 100.8888027479824588]], rtol=1e-14
    )
    chronic = ewma(loads, np.array([0]), alpha("half_life", 28))
    np.testing.assert_allclose(
        chronic, [[100.0, 97.55486420525732093, 100.0597868905473191]], rtol=1e-14
    )


def test_ewma_is_null_before_d0_and_seeded_on_d0() -> None:
    loads = np.array([[0.0, 0.0, 300.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    out = ewma(loads, np.array([2, NO_D0]), 0.25)
    assert np.isnan(out[0, :2]).all()
    assert out[0, 2] == 300.0
    assert out[0, 3] == 225.0
    assert np.isnan(out[1]).all()


def test_ewma_d0_with_zero_load_seeds_zero() -> None:
    # d0 is whatever the caller says it is (e.g. a recorded RPE 0 session).
    out = ewma(np.array([[0.0, 0.0, 80.0]]), np.array([1]), 0.25)
    assert np.isnan(out[0, 0])
    np.testing.assert_array_equal(out[0, 1:], [0.0, 20.0])


# --- ewma: pandas oracle -----------------------------------------------------------------


@pytest.mark.parametrize(("method", "n"), METHOD_ALPHAS)
def test_ewma_matches_pandas(method: str, n: int) -> None:
    rng = np.random.default_rng(7 + n)
    days = 200
    firsts = [0, 1, 5, 37, 150, days - 1, NO_D0]
    loads = random_loads(rng, firsts, days)
    a = alpha(method, n)
    out = ewma(loads, np.array(firsts), a)
    assert out.shape == loads.shape
    for row, first in enumerate(firsts):
        if first >= days:
            assert np.isnan(out[row]).all()
            continue
        expected = pd.Series(loads[row, first:]).ewm(alpha=a, adjust=False).mean().to_numpy()
        assert np.isnan(out[row, :first]).all()
        np.testing.assert_allclose(out[row, first:], expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize(("method", "n"), METHOD_ALPHAS)
@pytest.mark.parametrize("split", [1, 20, 100, 199])
def test_ewma_continues_from_prev(method: str, n: int, split: int) -> None:
    rng = np.random.default_rng(split)
    days = 200
    firsts = np.array([0, 10, 19, 20, 21, 120, 199, NO_D0])
    loads = random_loads(rng, list(firsts), days)
    a = alpha(method, n)
    whole = ewma(loads, firsts, a)

    head = ewma(loads[:, :split], firsts, a)
    shifted = np.where(firsts == NO_D0, NO_D0, firsts - split)
    tail = ewma(loads[:, split:], shifted, a, prev=head[:, -1])
    np.testing.assert_allclose(np.hstack([head, tail]), whole, rtol=1e-13, atol=1e-9)
    # And both agree with pandas.
    for row, first in enumerate(firsts):
        if first < days:
            expected = pd.Series(loads[row, first:]).ewm(alpha=a, adjust=False).mean()
            np.testing.assert_allclose(
                tail[row, max(first - split, 0) :],
                expected.to_numpy()[max(split - first, 0) :],
                rtol=1e-12,
                atol=1e-9,
            )


def test_ewma_demands_prev_exactly_when_d0_precedes_the_window() -> None:
    loads = np.zeros((1, 3))
    with pytest.raises(ValueError):
        ewma(loads, np.array([-1]), 0.25)  # started before, but no prev
    with pytest.raises(ValueError):
        ewma(loads, np.array([-1]), 0.25, prev=np.array([np.nan]))
    with pytest.raises(ValueError):
        ewma(loads, np.array([1]), 0.25, prev=np.array([50.0]))  # prev although d0 is inside
    out = ewma(loads, np.array([-1]), 0.25, prev=np.array([64.0]))
    np.testing.assert_array_equal(out, [[48.0, 36.0, 27.0]])


def test_ratio_is_null_when_chronic_is_zero_or_null() -> None:
    out = ratio(np.array([1.0, 0.0, np.nan, 2.0]), np.array([2.0, 0.0, 1.0, np.nan]))
    assert out[0] == 0.5
    assert np.isnan(out[1:]).all()


# --- rolling ratios ----------------------------------------------------------------------


def test_rolling_ratios_by_hand() -> None:
    # acute 2, chronic 4; three history days of zeros, d0 at column 3.
    loads = np.array([[0, 0, 0, 4, 0, 2, 6, 8, 0]], dtype=np.float64)
    coupled, uncoupled = rolling_ratios(loads, np.array([3]), 2, 4, start_index=3)
    assert coupled.shape == (1, 6)
    assert np.isnan(coupled[0, :3]).all()  # days 1..3 since d0
    assert np.isnan(uncoupled[0, :3]).all()
    # [2,6]/[4,0,2,6] -> 4/3; [6,8]/[0,2,6,8] -> 7/4; [8,0]/[2,6,8,0] -> 1.
    np.testing.assert_allclose(coupled[0, 3:], [4 / 3, 1.75, 1.0], rtol=1e-15)
    # before the acute window: [4,0] -> 2; [0,2] -> 1; [2,6] -> 4.
    np.testing.assert_allclose(uncoupled[0, 3:], [2.0, 7.0, 1.0], rtol=1e-15)


def test_rolling_ratios_null_when_denominator_is_zero() -> None:
    # acute 1, chronic 3, d0 at column 2.
    loads = np.array([[0, 0, 5, 0, 0, 0, 3]], dtype=np.float64)
    coupled, uncoupled = rolling_ratios(loads, np.array([2]), 1, 3, start_index=2)
    np.testing.assert_array_equal(np.isnan(coupled[0]), [1, 1, 0, 1, 0])
    np.testing.assert_array_equal(np.isnan(uncoupled[0]), [1, 1, 0, 1, 1])
    assert coupled[0, 2] == 0.0  # acute 0 against chronic 5/3
    assert uncoupled[0, 2] == 0.0
    assert coupled[0, 4] == 3.0


def test_rolling_ratios_zero_window_after_fractional_loads_is_null() -> None:
    loads = np.array([[0.1, 0.7, 1234.567, 0.3, 0.2] + [0.0] * 10 + [0.4]])
    coupled, _ = rolling_ratios(loads, np.array([0]), 2, 4, start_index=3)
    # Columns 9..14 end chronic windows of zeros only.
    assert np.isnan(coupled[0, 9 - 3 : 15 - 3]).all()
    assert not np.isnan(coupled[0, 15 - 3])


def test_rolling_ratios_need_history() -> None:
    with pytest.raises(ValueError):
        rolling_ratios(np.zeros((1, 40)), np.array([0]), 7, 28, start_index=26)


@pytest.mark.parametrize(("acute_days", "chronic_days"), [(7, 28), (3, 21), (1, 2)])
def test_rolling_ratios_match_pandas(acute_days: int, chronic_days: int) -> None:
    rng = np.random.default_rng(chronic_days)
    days = 240
    firsts = [0, 4, 30, 200, 230, NO_D0]
    loads = random_loads(rng, firsts, days)
    loads[:, 60:100] = 0.0  # a long break: zero denominators
    # An athlete whose d0 lies before the array (history only covers the look-back).
    loads = np.vstack([loads, rng.integers(1, 500, size=(1, days)).astype(np.float64)])
    firsts_arr = np.array([*firsts, -40])
    start = chronic_days - 1 + 5
    coupled, uncoupled = rolling_ratios(loads, firsts_arr, acute_days, chronic_days, start)
    assert coupled.shape == (len(firsts_arr), days - start)

    since = np.arange(days)[np.newaxis, :] - np.minimum(firsts_arr, days)[:, np.newaxis] + 1
    for row in range(len(firsts_arr)):
        series = pd.Series(loads[row])
        acute_mean = series.rolling(acute_days).mean()
        chronic_mean = series.rolling(chronic_days).mean()
        before_mean = series.shift(acute_days).rolling(chronic_days - acute_days).mean()
        enough = since[row] >= chronic_days
        exp_coupled = np.where(
            enough & (chronic_mean != 0), acute_mean / chronic_mean.replace(0, 1), np.nan
        )
        exp_uncoupled = np.where(
            enough & (before_mean != 0), acute_mean / before_mean.replace(0, 1), np.nan
        )
        np.testing.assert_allclose(coupled[row], exp_coupled[start:], rtol=1e-12)
        np.testing.assert_allclose(uncoupled[row], exp_uncoupled[start:], rtol=1e-12)
    # The data really exercises both nulls and values.
    assert np.isnan(coupled).any()
    assert np.isfinite(coupled).sum() > 500


# --- coverage ----------------------------------------------------------------------------


def test_coverage_by_hand() -> None:
    attended = np.array([[1, 0, 2, 0, 0, 0, 1]])
    with_srpe = np.array([[1, 0, 1, 0, 0, 0, 0]])
    out = coverage(attended, with_srpe, 3, start_index=2)
    np.testing.assert_allclose(out, [[2 / 3, 0.5, 0.5, 1.0, 0.0]], rtol=1e-15)


def test_coverage_is_one_when_nothing_attended() -> None:
    out = coverage(np.zeros((2, 30), dtype=int), np.zeros((2, 30), dtype=int), 28)
    assert out.shape == (2, 3)
    assert (out == 1.0).all()


def test_coverage_window_includes_both_ends() -> None:
    attended = np.zeros((1, 10), dtype=int)
    attended[0, 0] = 1  # attended without sRPE, 9 days before the last column
    zero = np.zeros_like(attended)
    out = coverage(attended, zero, 4, start_index=3)
    # Column 3's window is [0, 3]: it sees the miss; column 4's window [1, 4] does not.
    np.testing.assert_array_equal(out[0], [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])


def test_coverage_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    attended = rng.integers(0, 3, size=(5, 90))
    attended[:, 40:70] = 0
    with_srpe = rng.integers(0, 3, size=attended.shape).clip(max=attended)
    chronic = 28
    out = coverage(attended, with_srpe, chronic)
    for row in range(5):
        for t in range(chronic - 1, 90):
            went = attended[row, t - chronic + 1 : t + 1].sum()
            rated = with_srpe[row, t - chronic + 1 : t + 1].sum()
            expected = 1.0 if went == 0 else rated / went
            assert out[row, t - chronic + 1] == pytest.approx(expected, rel=1e-15)


def test_coverage_rejects_more_srpe_than_attendance() -> None:
    with pytest.raises(ValueError):
        coverage(np.zeros((1, 5), dtype=int), np.ones((1, 5), dtype=int), 3)


# --- zones -------------------------------------------------------------------------------


def zones_of(ratios: list[float], since: int = 28, cov: float = 1.0) -> list[str]:
    values = np.array([ratios])
    labels = zone(
        values, np.full(values.shape, since), np.full(values.shape, cov), 28, 0.8, 1.3, 1.4
    )
    return [str(label) for label in labels[0]]


def test_zone_boundaries() -> None:
    assert zones_of([0.8, 0.7999, 1.0, 1.3, 1.3001, 1.4, 1.4001]) == [
        "optimal",
        "low",
        "optimal",
        "optimal",
        "high",
        "high",
        "danger",
    ]


def test_zone_coverage_threshold() -> None:
    assert zones_of([1.0, 1.5], cov=0.9) == ["optimal", "danger"]
    assert zones_of([1.0, 1.5], cov=0.89) == ["insufficient_data"] * 2
    # 9 of 10 sessions rated, computed the way coverage() computes it, is enough.
    nine_of_ten = coverage(np.array([[10]]), np.array([[9]]), 1, start_index=0)[0, 0]
    assert zones_of([1.0], cov=float(nine_of_ten)) == ["optimal"]


def test_zone_needs_chronic_days_since_d0() -> None:
    assert zones_of([1.0, 1.5], since=27) == ["insufficient_data"] * 2
    assert zones_of([1.0, 1.5], since=28) == ["optimal", "danger"]


def test_zone_null_ratio_is_insufficient() -> None:
    assert zones_of([math.nan]) == ["insufficient_data"]


# --- helpers and the combined series -----------------------------------------------------


def test_first_load_index_and_days_since() -> None:
    first = first_load_index(np.array([[0, 0, 5, 1], [0, 0, 0, 0], [3, 0, 0, 0]]) > 0)
    np.testing.assert_array_equal(first, [2, NO_D0, 0])
    np.testing.assert_array_equal(
        days_since_d0(first, 4, start_index=1), [[0, 1, 2], [-2, -1, 0], [2, 3, 4]]
    )


def test_params_validate_like_the_api() -> None:
    assert AcwrParams().alpha_acute == 0.25
    with pytest.raises(ValueError):
        AcwrParams(acute_days=28, chronic_days=28)
    with pytest.raises(ValueError):
        AcwrParams(low=1.3, high=1.3)
    with pytest.raises(ValueError):
        AcwrParams(method="ewma")


def series_inputs(seed: int, days: int = 150) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    firsts = [0, 3, 40, 120, NO_D0]
    loads = random_loads(rng, firsts, days)
    attended = (loads > 0).astype(np.int64) + rng.integers(0, 2, size=loads.shape)
    with_srpe = np.where(rng.random(loads.shape) < 0.97, attended, 0)
    return loads, np.array(firsts), attended, with_srpe


@pytest.mark.parametrize("method", ["williams", "half_life"])
def test_compute_series_consistent_with_its_parts(method: str) -> None:
    params = AcwrParams(method=method)
    loads, firsts, attended, with_srpe = series_inputs(11)
    start = 27
    s = compute_series(loads, firsts, attended, with_srpe, params, start)
    acute = ewma(loads, firsts, params.alpha_acute)[:, start:]
    chronic = ewma(loads, firsts, params.alpha_chronic)[:, start:]
    np.testing.assert_array_equal(s.load, loads[:, start:])
    np.testing.assert_array_equal(s.acute, acute)
    np.testing.assert_array_equal(s.chronic, chronic)
    np.testing.assert_array_equal(s.ratio, ratio(acute, chronic))
    coupled, uncoupled = rolling_ratios(loads, firsts, 7, 28, start)
    np.testing.assert_array_equal(s.ratio_coupled, coupled)
    np.testing.assert_array_equal(s.ratio_uncoupled, uncoupled)
    np.testing.assert_array_equal(s.coverage, coverage(attended, with_srpe, 28, start))
    since = days_since_d0(firsts, loads.shape[1], start)
    expected_zone = zone(s.ratio, since, s.coverage, 28, 0.8, 1.3, 1.4)
    np.testing.assert_array_equal(s.zone, expected_zone)
    assert set(np.unique(s.zone)) >= {"insufficient_data", "optimal"}


def test_compute_series_from_snapshot_equals_full_pass() -> None:
    params = AcwrParams()
    loads, firsts, attended, with_srpe = series_inputs(5)
    full = compute_series(loads, firsts, attended, with_srpe, params, 27)
    # Recompute from day 100 on: the EWMAs continue from the day-99 values, the rolling
    # figures get the 27 days before day 100 as history.
    day = 100
    lo = day - 27
    shifted = np.where(firsts == NO_D0, NO_D0, firsts - lo)
    prev_acute = full.acute[:, day - 1 - 27]
    prev_chronic = full.chronic[:, day - 1 - 27]
    part = compute_series(
        loads[:, lo:],
        shifted,
        attended[:, lo:],
        with_srpe[:, lo:],
        params,
        27,
        prev_acute=prev_acute,
        prev_chronic=prev_chronic,
    )
    tail = slice(day - 27, None)
    np.testing.assert_allclose(part.acute, full.acute[:, tail], rtol=1e-13)
    np.testing.assert_allclose(part.chronic, full.chronic[:, tail], rtol=1e-13)
    np.testing.assert_allclose(part.ratio_coupled, full.ratio_coupled[:, tail], rtol=1e-13)
    np.testing.assert_allclose(part.ratio_uncoupled, full.ratio_uncoupled[:, tail], rtol=1e-13)
    np.testing.assert_array_equal(part.coverage, full.coverage[:, tail])
    np.testing.assert_array_equal(part.days_since_d0, full.days_since_d0[:, tail])
    np.testing.assert_array_equal(part.zone, full.zone[:, tail])


def test_constant_load_gives_ratio_one_from_d0() -> None:
    # The Williams seeding: no artificial spike in an athlete's first weeks.
    loads = np.concatenate([np.zeros((1, 27)), np.full((1, 40), 400.0)], axis=1)
    attended = (loads > 0).astype(np.int64)
    s = compute_series(loads, np.array([27]), attended, attended, AcwrParams(), 27)
    np.testing.assert_allclose(s.ratio, 1.0, rtol=1e-14)
    assert (s.zone[0, :27] == "insufficient_data").all()
    assert (s.zone[0, 27:] == "optimal").all()
    np.testing.assert_allclose(s.ratio_coupled[0, 27:], 1.0, rtol=1e-14)
    assert np.isnan(s.ratio_coupled[0, :27]).all()
