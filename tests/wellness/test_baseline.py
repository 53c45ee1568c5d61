"""Personal wellness baselines, pure (no database): z against the 28 days before, flags
raised and never lowered, the reason's wording, and the roster's many-at-once call."""

from datetime import date, timedelta

import numpy as np

from app.services.wellness import scoring

DAY = date(2026, 11, 30)

# 25 sleep values with mean 4.2 and sample SD 0.5: one 3, eighteen 4s, six 5s
# (sum 105; squared deviations 1.44 + 18 x 0.04 + 6 x 0.64 = 6.0; 6 / 24 = 0.25).
SLEEP = [3] + [4] * 18 + [5] * 6


def _history(sleep: list[int], mood: int = 4, soreness: int = 4) -> dict[date, scoring.Values]:
    """One entry a day going back from the day before ``DAY``."""
    return {
        DAY - timedelta(days=back): [value, mood, soreness, None, None]
        for back, value in enumerate(sleep, start=1)
    }


def test_worked_example_sleep_3_against_mean_4_2_sd_0_5_is_red() -> None:
    result = scoring.assess_one([3, 4, 4, None, None], DAY, _history(SLEEP).items())
    assert scoring.score([3, 4, 4, None, None]) == (11, "green")  # alone it is green
    assert result.baseline is not None
    assert result.baseline.n == 25
    sleep = result.baseline.items["sleep_quality"]
    assert (sleep.mean, sleep.sd, sleep.z) == (4.2, 0.5, -2.4)
    # mood and soreness were always 4: sd 0, no z; stress and fatigue never given
    assert result.baseline.items["mood"] == scoring.ItemBaseline(4.0, 0.0, None)
    assert result.baseline.items["stress"] == scoring.ItemBaseline(None, None, None)
    assert (result.total, result.items_flag, result.flag) == (11, "green", "red")
    assert result.reason == "sleep_quality 3 is 2.4 SD below the 28-day mean 4.2 (z <= -2)"


def test_z_at_or_below_minus_one_is_amber() -> None:
    # mean 4.2, sd 0.5: 3.7 would be z -1; a 4 is z -0.4 (green), so use sd 1 instead:
    # 16 values, eight 3s and eight 5s: mean 4, sd sqrt(16/15) = 1.03; entry 3 -> z -0.97.
    near = scoring.assess_one([3, 4, 4, None, None], DAY, _history([3] * 8 + [5] * 8).items())
    assert near.baseline is not None and near.baseline.items["sleep_quality"].z == -0.97
    assert (near.flag, near.reason) == ("green", None)
    # fourteen 5s and two 3s: mean 4.75, sd 0.68; entry 4 -> z -1.1 -> amber
    amber = scoring.assess_one([4, 4, 4, None, None], DAY, _history([5] * 14 + [3] * 2).items())
    assert amber.baseline is not None
    assert amber.baseline.items["sleep_quality"] == scoring.ItemBaseline(4.75, 0.68, -1.1)
    assert amber.flag == "amber"
    assert amber.reason == "sleep_quality 4 is 1.1 SD below the 28-day mean 4.75 (z <= -1)"


def test_exactly_minus_two_is_red_whatever_the_float_noise() -> None:
    # Twenty half-point values (mean 4, sd sqrt(5/19)) and an entry 2 SD below: in floats
    # the z lands a hair to either side of -2 (here -2.0000000000000004); decided on 6
    # decimals it is -2 either way, so red, and a hair above would not make it amber.
    history = [3.5] * 10 + [4.5] * 10
    window = scoring.empty_windows(1)
    window[0, :20, 0] = history
    window[0, :20, 1:3] = 4
    value = 4 - 2 * float(np.std(history, ddof=1))
    (result,) = scoring.assess([[value, 4, 4, np.nan, np.nan]], window)
    assert result.baseline is not None and result.baseline.items["sleep_quality"].z == -2.0
    assert result.flag == "red"
    (above,) = scoring.assess([[value + 1e-12, 4, 4, np.nan, np.nan]], window)
    assert above.flag == "red"


def test_never_lowered_an_item_at_1_stays_red_above_its_normal() -> None:
    # always 1 for soreness: the mean is 1, sd 0 -> no z, but the item at 1 is red.
    history = _history(SLEEP, soreness=1)
    result = scoring.assess_one([5, 4, 1, None, None], DAY, history.items())
    assert result.flag == "red"
    assert result.reason == "soreness is 1 (an item at 1 is red)"
    assert result.baseline is not None and result.baseline.items["soreness"].z is None


def test_an_item_at_2_is_amber_with_its_reason() -> None:
    result = scoring.assess_one([4, 2, 4, None, None], DAY, [])
    assert (result.flag, result.baseline) == ("amber", None)
    assert result.reason == "mood is 2 (an item at 2 is amber)"


def test_fewer_than_14_entries_in_the_28_days_before_is_no_baseline() -> None:
    thirteen = _history([4] * 13)
    older = {DAY - timedelta(days=29 + i): [5, 5, 5, None, None] for i in range(20)}
    today = {DAY: [1, 1, 1, None, None]}  # the day itself does not count
    result = scoring.assess_one([3, 4, 4, None, None], DAY, [*thirteen.items(), *older.items()])
    assert (result.baseline, result.flag) == (None, "green")
    result = scoring.assess_one(
        [3, 4, 4, None, None], DAY, [*_history([4] * 14).items(), *today.items()]
    )
    assert result.baseline is not None and result.baseline.n == 14


def test_an_item_not_given_has_no_z() -> None:
    history = {d: [*v[:3], 2, None] for d, v in _history(SLEEP).items()}  # stress always 2
    result = scoring.assess_one([4, 4, 4, None, 3], DAY, history.items())
    assert result.baseline is not None
    assert result.baseline.items["stress"] == scoring.ItemBaseline(2.0, 0.0, None)
    assert result.baseline.items["fatigue"].z is None
    assert result.flag == "green"


def test_a_series_and_a_team_at_once_agree_with_one_at_a_time() -> None:
    rng = np.random.default_rng(14)
    history: dict[date, scoring.Values] = {
        DAY - timedelta(days=back): [int(v) for v in rng.integers(3, 6, 5)]
        for back in range(60)
        if rng.random() < 0.8
    }
    days = sorted(d for d in history if d >= DAY - timedelta(days=20))
    together = scoring.assess_days(history, days)
    alone = [scoring.assess_one(history[d], d, history.items()) for d in days]
    assert [(a.total, a.flag, a.reason, a.baseline) for a in together] == [
        (a.total, a.flag, a.reason, a.baseline) for a in alone
    ]
    assert any(a.baseline is not None for a in together)
    assert any(a.flag != a.items_flag for a in together)  # some raised by the baseline
