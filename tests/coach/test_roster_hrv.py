"""The roster's HRV flags: computed with numpy for the whole team, yet always the flag the
HRV series gives (the same choice among sources, the same exactly rounded arithmetic)."""

import math
import random
from datetime import UTC, date, datetime, timedelta

import httpx
import numpy as np

from app.models import DailyHRV, HrvSource
from app.services.coach import roster
from app.services.hrv import baseline as hrv
from tests.fixtures.actors import Api, Squad

TODAY = datetime.now(UTC).date()
DAY = date(2026, 11, 26)
NAN = float("nan")


def _by_day(window: list[float], day: date = DAY) -> dict[date, float]:
    first = day - timedelta(days=hrv.WINDOW_DAYS - 1)
    return {first + timedelta(days=i): v for i, v in enumerate(window) if not math.isnan(v)}


def _random_window(rng: random.Random) -> list[float]:
    """A window with a random share of days recorded and, sometimes, a late drop or rise."""
    density, centre, shift = rng.random(), rng.uniform(3.0, 5.0), rng.choice([-0.3, 0.0, 0.3])
    window = []
    for i in range(hrv.WINDOW_DAYS):
        recent = i >= hrv.WINDOW_DAYS - hrv.ROLLING_DAYS
        value = rng.gauss(centre + (shift if recent else 0.0), 0.1)
        window.append(value if rng.random() < density else NAN)
    return window


def test_day_flags_equal_the_exact_rule_on_random_windows() -> None:
    rng = random.Random(20261126)
    windows = [_random_window(rng) for _ in range(2000)]
    flags = hrv.day_flags(windows, DAY)
    assert flags == [hrv.day_flag(_by_day(w), DAY) for w in windows]
    assert set(flags) == {"below", "normal", "above", None}  # every branch is exercised


def test_day_flags_equal_the_exact_rule_on_constant_values() -> None:
    # The same value every day: the rolling mean sits on the baseline mean, and numpy's
    # sums differ from the exactly rounded ones in the last bit for most values. Without
    # the exact recomputation near a band edge, about a third of these rows would differ.
    rng = random.Random(5)
    windows = [[math.log(rng.uniform(20, 150))] * hrv.WINDOW_DAYS for _ in range(500)]
    assert hrv.day_flags(windows, DAY) == [hrv.day_flag(_by_day(w), DAY) for w in windows]


def test_too_few_values_give_no_flag() -> None:
    enough_history = [4.0 + 0.01 * (i % 3) for i in range(hrv.WINDOW_DAYS)]
    two_recent = enough_history[: -hrv.ROLLING_DAYS] + [NAN] * 5 + [4.0, 4.0]
    # The day and the 13 days before it: one value short of a baseline.
    thin_history = [NAN] * (hrv.WINDOW_DAYS - 14) + enough_history[-14:]
    assert hrv.day_flags([enough_history, two_recent, thin_history], DAY) == [
        hrv.day_flag(_by_day(enough_history), DAY),
        None,
        None,
    ]
    assert hrv.day_flags(np.empty((0, hrv.WINDOW_DAYS)), DAY) == []


def test_roster_flags_scatter_days_in_any_order() -> None:
    rng = random.Random(7)
    window = _random_window(rng)
    days = [i - (hrv.WINDOW_DAYS - 1) for i, v in enumerate(window) if not math.isnan(v)]
    values = [v for v in window if not math.isnan(v)]
    order = list(range(len(days)))
    rng.shuffle(order)
    shuffled = ([days[i] for i in order], [values[i] for i in order])
    expected = hrv.day_flag(_by_day(window), DAY)
    points = roster.hrv_points([None, shuffled, ([], [])], DAY)
    assert [p.flag for p in points] == [None, expected, None]


async def _add_readings(
    api: Api, squad: Squad, member: int, readings: dict[int, dict[HrvSource, float]]
) -> None:
    """Store readings directly: ``{days back: {source: rMSSD}}``."""
    async with api.sessionmaker.begin() as session:
        for back, by_source in readings.items():
            for source, rmssd in by_source.items():
                session.add(
                    DailyHRV(
                        team_id=squad.team["id"],
                        membership_id=member,
                        date=TODAY - timedelta(days=back),
                        rmssd_ms=rmssd,
                        ln_rmssd=math.log(rmssd),
                        source=source,
                    )
                )


async def _series_flag(client: httpx.AsyncClient, squad: Squad, member: int) -> str | None:
    day = TODAY.isoformat()
    response = await client.get(
        f"/performance/members/{member}/hrv",
        params={"from": day, "to": day},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text
    (entry,) = response.json()
    flag: str | None = entry["flag"]
    return flag


async def test_the_roster_flag_is_the_series_flag(api: Api, squad: Squad) -> None:
    player, teammate = squad.player_membership["id"], squad.teammate_membership["id"]
    # The player's watch and manual entries share most days: the watch's value counts.
    # Manual alone would read far below the baseline these last days; the watch's does not.
    await _add_readings(
        api,
        squad,
        player,
        {
            back: {HrvSource.WHOOP: 80.0 + back % 4}
            | ({HrvSource.MANUAL: 40.0 if back < 3 else 80.0} if back % 2 == 0 or back < 3 else {})
            for back in range(40)
        },
    )
    # The teammate enters the same value every day: the flag rests on last-bit rounding.
    await _add_readings(
        api, squad, teammate, {back: {HrvSource.MANUAL: 67.3} for back in range(40)}
    )
    response = await api.client.get(
        f"/teams/{squad.team['id']}/roster", headers=squad.coach.headers
    )
    assert response.status_code == 200, response.text
    flags = {entry["membership_id"]: entry["hrv_flag"] for entry in response.json()}
    assert flags[player] == await _series_flag(api.client, squad, player)
    assert flags[player] != "below"  # the manual values were not used
    assert flags[teammate] == await _series_flag(api.client, squad, teammate)
    assert flags[teammate] is not None
