"""The acwr and load-summary routes: numbers that follow every committed write."""

import statistics
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.fixtures.actors import Api, Squad, started_at

TODAY = datetime.now(UTC).date()


def _at(day: date, hour: int = 10) -> datetime:
    return started_at(day, hour)


async def _log(api: Api, squad: Squad, day: date, rpe: float, minutes: int = 60) -> dict[str, Any]:
    """A session on ``day`` with the player's sRPE: load = rpe x minutes."""
    session = await api.session(squad.team, squad.coach, start=_at(day), minutes=minutes)
    response = await api.client.post(
        f"/performance/sessions/{session['id']}/srpe",
        json={"membership_id": squad.player_membership["id"], "rpe_0_10": rpe},
        headers=squad.player.headers,
    )
    assert response.status_code == 201, response.text
    return session


async def _acwr(
    client: httpx.AsyncClient, squad: Squad, start: date, end: date, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        f"/performance/members/{squad.player_membership['id']}/acwr",
        params={"from": start.isoformat(), "to": end.isoformat(), **params},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _oracle(
    loads: dict[date, float], d0: date, end: date, n_acute: int, n_chronic: int
) -> pd.DataFrame:
    """pandas' own EWMA seeded with the first value (adjust=False), as the contract says."""
    index = pd.date_range(d0, end, freq="D")
    series = pd.Series([loads.get(d.date(), 0.0) for d in index], index=index)
    acute = series.ewm(alpha=2 / (n_acute + 1), adjust=False).mean()
    chronic = series.ewm(alpha=2 / (n_chronic + 1), adjust=False).mean()
    return pd.DataFrame({"acute": acute, "chronic": chronic})


async def test_series_matches_the_pandas_oracle(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    d0 = TODAY - timedelta(days=60)
    loads: dict[date, float] = {}
    for back in range(60, -1, -1):
        day = TODAY - timedelta(days=back)
        if back % 3 == 0 or back < 8:
            rpe = 5 + (back % 5)
            await _log(api, squad, day, rpe, minutes=60)
            loads[day] = rpe * 60
    body = await _acwr(client, squad, d0 - timedelta(days=5), TODAY)
    assert body["settings"]["method"] == "williams"
    points = {p["date"]: p for p in body["points"]}
    assert len(points) == 66
    before = points[(d0 - timedelta(days=1)).isoformat()]
    assert (before["load"], before["acute_ewma"], before["ratio"], before["zone"]) == (
        0,
        None,
        None,
        "insufficient_data",
    )
    oracle = _oracle(loads, d0, TODAY, 7, 28)
    for stamp, row in oracle.iterrows():
        point = points[stamp.date().isoformat()]
        assert point["acute_ewma"] == pytest.approx(row["acute"], rel=1e-9)
        assert point["chronic_ewma"] == pytest.approx(row["chronic"], rel=1e-9)
        assert point["ratio"] == pytest.approx(row["acute"] / row["chronic"], rel=1e-9)
    first = points[d0.isoformat()]
    assert first["acute_ewma"] == first["chronic_ewma"] == loads[d0]
    # Rolling ratios exist only from chronic_days days of history (both ends counted).
    assert points[(d0 + timedelta(days=26)).isoformat()]["ratio_coupled"] is None
    day28 = d0 + timedelta(days=27)
    window = [loads.get(day28 - timedelta(days=k), 0.0) for k in range(28)]
    assert points[day28.isoformat()]["ratio_coupled"] == pytest.approx(
        statistics.mean(window[:7]) / statistics.mean(window)
    )
    assert points[day28.isoformat()]["ratio_uncoupled"] == pytest.approx(
        statistics.mean(window[:7]) / statistics.mean(window[7:])
    )
    # The last week was loaded every day after a lighter month: a spike the zones show.
    assert points[TODAY.isoformat()]["zone"] in {"high", "danger"}
    assert points[(d0 + timedelta(days=26)).isoformat()]["zone"] == "insufficient_data"


async def test_a_late_srpe_changes_every_later_point(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    for back in range(45, -1, -2):
        await _log(api, squad, TODAY - timedelta(days=back), 6)
    before = await _acwr(client, squad, TODAY - timedelta(days=40), TODAY)
    late_day = TODAY - timedelta(days=30)  # a day with no session so far
    await _log(api, squad, late_day, 9, minutes=90)
    after = await _acwr(client, squad, TODAY - timedelta(days=40), TODAY)
    changed = [
        b["date"]
        for b, a in zip(before["points"], after["points"], strict=True)
        if b["acute_ewma"] != a["acute_ewma"]
    ]
    first_changed = date.fromisoformat(changed[0])
    assert first_changed == late_day
    # Every day from the late write on moved, at once, in the very next read.
    assert changed == [
        (first_changed + timedelta(days=k)).isoformat()
        for k in range((TODAY - first_changed).days + 1)
    ]


async def test_moving_and_deleting_a_session_moves_the_series(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    for back in range(40, 0, -1):
        await _log(api, squad, TODAY - timedelta(days=back), 5)
    spike_day = TODAY - timedelta(days=3)
    spike = await _log(api, squad, spike_day, 10, minutes=120)
    with_spike = await _acwr(client, squad, TODAY - timedelta(days=5), TODAY)
    new_day = TODAY - timedelta(days=20)
    moved = await client.patch(
        f"/performance/sessions/{spike['id']}",
        json={
            "start": _at(new_day).isoformat(),
            "end": (_at(new_day) + timedelta(hours=2)).isoformat(),
        },
        headers=squad.coach.headers,
    )
    assert moved.status_code == 200
    after_move = await _acwr(client, squad, TODAY - timedelta(days=5), TODAY)
    spike_point = next(p for p in with_spike["points"] if p["date"] == spike_day.isoformat())
    moved_point = next(p for p in after_move["points"] if p["date"] == spike_day.isoformat())
    assert spike_point["load"] == 300 + 1200
    assert moved_point["load"] == 300
    assert moved_point["acute_ewma"] < spike_point["acute_ewma"]

    await client.delete(f"/performance/sessions/{spike['id']}", headers=squad.coach.headers)
    after_delete = await _acwr(client, squad, new_day, new_day)
    assert after_delete["points"][0]["load"] == 300


async def test_settings_change_recomputes_with_the_new_method(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    loads = {}
    for back in range(35, -1, -1):
        day = TODAY - timedelta(days=back)
        await _log(api, squad, day, 4 + back % 4)
        loads[day] = (4 + back % 4) * 60.0
    await _acwr(client, squad, TODAY - timedelta(days=3), TODAY)
    response = await client.patch(
        f"/teams/{squad.team['id']}",
        json={"acwr": {"method": "half_life", "acute_days": 3, "chronic_days": 14}},
        headers=squad.owner.headers,
    )
    assert response.status_code == 200
    body = await _acwr(client, squad, TODAY, TODAY)
    assert body["settings"]["method"] == "half_life"
    index = pd.date_range(TODAY - timedelta(days=35), TODAY, freq="D")
    series = pd.Series([loads[d.date()] for d in index])
    expected = series.ewm(alpha=1 - 0.5 ** (1 / 3), adjust=False).mean().iloc[-1]
    assert body["points"][0]["acute_ewma"] == pytest.approx(expected, rel=1e-9)


async def test_missing_srpe_shows_in_coverage_not_as_rest(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    member = squad.player_membership["id"]
    for back in range(30, 0, -1):
        day = TODAY - timedelta(days=back)
        session = await api.session(squad.team, squad.coach, start=_at(day), minutes=60)
        await client.post(
            f"/performance/sessions/{session['id']}/attendance",
            json=[{"membership_id": member, "status": "PRESENT", "minutes_participated": 60}],
            headers=squad.coach.headers,
        )
        if back % 5 != 0:  # every fifth attended session has no sRPE
            await client.post(
                f"/performance/sessions/{session['id']}/srpe",
                json={"membership_id": member, "rpe_0_10": 6},
                headers=squad.player.headers,
            )
    body = await _acwr(client, squad, TODAY - timedelta(days=1), TODAY - timedelta(days=1))
    point = body["points"][0]
    # The last 28 days hold 28 attended sessions, 5 or 6 of them unrated.
    assert 0.78 <= point["coverage"] < 0.9
    assert point["zone"] == "insufficient_data"
    assert point["ratio"] is not None


async def test_range_limits(client: httpx.AsyncClient, squad: Squad) -> None:
    url = f"/performance/members/{squad.player_membership['id']}/acwr"
    ok = await client.get(
        url, params={"from": (TODAY - timedelta(days=730)).isoformat()}, headers=squad.coach.headers
    )
    assert ok.status_code == 200
    assert len(ok.json()["points"]) == 731
    too_long = await client.get(
        url, params={"from": (TODAY - timedelta(days=731)).isoformat()}, headers=squad.coach.headers
    )
    assert too_long.status_code == 422
    default = await client.get(url, headers=squad.player.headers)
    assert [p["date"] for p in default.json()["points"]][-1] == TODAY.isoformat()
    assert len(default.json()["points"]) == 28
    bad_source = await client.get(url, params={"source": "GPS"}, headers=squad.coach.headers)
    assert bad_source.status_code == 422


async def test_load_summary_weeks(client: httpx.AsyncClient, api: Api, squad: Squad) -> None:
    monday = TODAY - timedelta(days=TODAY.weekday() + 14)
    rpes = [5, 6, 0, 7, 5, 8, 0]
    for k, rpe in enumerate(rpes):
        if rpe:
            await _log(api, squad, monday + timedelta(days=k), rpe)
    await _log(api, squad, monday - timedelta(days=3), 5)  # the week before: total 300
    response = await client.get(
        f"/performance/members/{squad.player_membership['id']}/load-summary",
        params={
            "from": (monday + timedelta(days=2)).isoformat(),
            "to": (monday + timedelta(days=3)).isoformat(),
        },
        headers=squad.coach.headers,
    )
    assert response.status_code == 200
    [week] = response.json()
    daily = [r * 60 for r in rpes]
    year, number, _ = monday.isocalendar()
    assert week["week"] == f"{year}-W{number:02d}"
    assert week["total_au"] == sum(daily)
    assert week["sd_au"] == pytest.approx(statistics.stdev(daily))
    assert week["monotony"] == pytest.approx(statistics.mean(daily) / statistics.stdev(daily))
    assert week["strain"] == pytest.approx(sum(daily) * week["monotony"])
    assert week["change_pct"] == pytest.approx(100 * (sum(daily) - 300) / 300)


async def test_series_starts_when_an_srpe_follows_unrated_attendance(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    """The first activity being an attendance without sRPE must not hide the first load."""
    member = squad.player_membership["id"]
    first = await api.session(squad.team, squad.coach, start=_at(TODAY - timedelta(days=10)))
    await client.post(
        f"/performance/sessions/{first['id']}/attendance",
        json=[{"membership_id": member, "status": "PRESENT"}],
        headers=squad.coach.headers,
    )
    before = await _acwr(client, squad, TODAY - timedelta(days=10), TODAY)
    assert before["points"][0]["coverage"] == 0.0
    assert all(p["acute_ewma"] is None for p in before["points"])
    await _log(api, squad, TODAY - timedelta(days=5), 5)
    after = await _acwr(client, squad, TODAY - timedelta(days=5), TODAY)
    assert after["points"][0]["acute_ewma"] == 300
    assert after["points"][-1]["acute_ewma"] == pytest.approx(300 * 0.75**5)


async def test_deleting_the_first_session_clears_the_days_before_the_new_start(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    first = await _log(api, squad, TODAY - timedelta(days=20), 8)
    await _log(api, squad, TODAY - timedelta(days=10), 5)
    await _acwr(client, squad, TODAY - timedelta(days=20), TODAY)
    await client.delete(f"/performance/sessions/{first['id']}", headers=squad.coach.headers)
    body = await _acwr(client, squad, TODAY - timedelta(days=20), TODAY)
    old_day = body["points"][0]
    assert (old_day["load"], old_day["acute_ewma"], old_day["ratio"]) == (0, None, None)
    new_start = body["points"][10]
    assert new_start["acute_ewma"] == new_start["chronic_ewma"] == 300
