"""Alerts through HTTP: each rule raises one alert with its numbers, once; staff only."""

import math
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import scheduler
from app.services.acwr import jobs as acwr_jobs
from app.services.alerts import jobs as alerts
from tests.fixtures.actors import Api, Squad, started_at

NOW = datetime.now(UTC)
TODAY = NOW.date()


async def _alerts(
    client: httpx.AsyncClient, squad: Squad, status: str = "open", kind: str | None = None
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/teams/{squad.team['id']}/alerts",
        params={"status": status},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return [a for a in found if kind is None or a["kind"] == kind]


async def _wellness(client: httpx.AsyncClient, squad: Squad, **items: int) -> None:
    body = {"sleep_quality": 3, "mood": 3, "soreness": 3, "stress": 3, "fatigue": 3} | items
    response = await client.post(
        "/performance/wellness",
        json={"membership_id": squad.player_membership["id"], **body},
        headers=squad.player.headers,
    )
    assert response.status_code in (200, 201), response.text


async def _hrv(client: httpx.AsyncClient, squad: Squad, back: int, rmssd_ms: float) -> None:
    response = await client.post(
        f"/performance/members/{squad.player_membership['id']}/hrv",
        json={"date": (TODAY - timedelta(days=back)).isoformat(), "rmssd_ms": rmssd_ms},
        headers=squad.player.headers,
    )
    assert response.status_code in (200, 201), response.text


async def test_a_red_wellness_entry_raises_one_alert_with_its_items(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    await _wellness(client, squad, sleep_quality=4)
    assert await _alerts(client, squad) == []
    await _wellness(client, squad, sleep_quality=1, soreness=1, mood=2)
    await _wellness(client, squad, sleep_quality=1)  # the same day again: no second alert
    found = await _alerts(client, squad)
    assert len(found) == 1
    alert = found[0]
    assert alert["kind"] == "WELLNESS_RED"
    assert alert["severity"] == "red"
    assert alert["date"] == TODAY.isoformat()
    assert alert["membership_id"] == squad.player_membership["id"]
    assert alert["team_id"] == squad.team["id"]
    assert alert["acknowledged_at"] is None and alert["acknowledged_by"] is None
    evidence = alert["evidence"]
    assert evidence["rule"] == "wellness_red"
    assert evidence["params"]["red_at"] == 1
    assert evidence["inputs"]["items_at_1"] == ["sleep_quality", "soreness"]
    assert evidence["inputs"]["total"] == 1 + 2 + 1 + 3 + 3
    assert set(alert) == {
        "id",
        "team_id",
        "membership_id",
        "kind",
        "date",
        "severity",
        "message",
        "evidence",
        "created_at",
        "acknowledged_at",
        "acknowledged_by",
    }


async def test_an_hrv_drop_raises_one_amber_alert(client: httpx.AsyncClient, squad: Squad) -> None:
    for back, value in ((3, 70.0), (2, 80.0), (1, 90.0)):
        await _hrv(client, squad, back, value)
    await _hrv(client, squad, 0, 63.0)  # 21.25 % below 80
    await _hrv(client, squad, 0, 60.0)  # a replacement of the same day: still one alert
    found = await _alerts(client, squad, kind="HRV_DROP")
    assert len(found) == 1
    alert = found[0]
    assert (alert["severity"], alert["date"]) == ("amber", TODAY.isoformat())
    evidence = alert["evidence"]
    assert evidence["rule"] == "hrv_drop"
    assert evidence["params"]["threshold_pct"] == 20.0
    assert evidence["inputs"]["previous_mean_ms"] == pytest.approx(80.0)
    assert evidence["inputs"]["rmssd_ms"] == 63.0
    assert evidence["inputs"]["drop_pct"] == pytest.approx(21.25)


async def test_an_hrv_value_20_percent_below_raises_nothing(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    for back in (3, 2, 1):
        await _hrv(client, squad, back, 80.0)
    await _hrv(client, squad, 0, 64.0)  # exactly 20 %
    assert await _alerts(client, squad) == []


async def test_hrv_below_normal_is_raised_by_the_job_for_the_newest_day(
    client: httpx.AsyncClient, squad: Squad, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    for back in range(30, 4, -1):
        await _hrv(client, squad, back, 80.0 + (back % 3))  # 79 to 82 ms: a steady baseline
    for back in range(4, -1, -1):
        await _hrv(client, squad, back, 70.0)  # 12.5 % lower: no drop, but below normal
    assert await _alerts(client, squad) == []
    assert await alerts.raise_due_alerts(sessionmaker, team_ids=[squad.team["id"]]) == 1
    assert await alerts.raise_due_alerts(sessionmaker, team_ids=[squad.team["id"]]) == 0
    found = await _alerts(client, squad)
    assert [a["kind"] for a in found] == ["HRV_BELOW_NORMAL"]
    alert = found[0]
    assert (alert["severity"], alert["date"]) == ("amber", TODAY.isoformat())
    inputs = alert["evidence"]["inputs"]
    series = await client.get(
        f"/performance/members/{squad.player_membership['id']}/hrv",
        params={"from": TODAY.isoformat()},
        headers=squad.coach.headers,
    )
    point = series.json()[0]
    assert point["flag"] == "below"
    assert inputs["rolling7_ln_mean"] == pytest.approx(point["rolling7_ln_mean"])
    assert inputs["baseline_ln_mean"] == pytest.approx(point["baseline_ln_mean"])
    assert inputs["baseline_ln_sd"] == pytest.approx(point["baseline_ln_sd"])
    assert inputs["rolling7_ln_mean"] < inputs["threshold_ln"]
    # 5 of the 7 days at 70 ms, 2 of them from the baseline (days 5 and 6 back: 82 and 80)
    expected = (5 * math.log(70.0) + math.log(82.0) + math.log(80.0)) / 7
    assert inputs["rolling7_ln_mean"] == pytest.approx(expected)
    assert alert["evidence"]["params"]["swc_factor"] == 0.5


async def _training(
    api: Api, squad: Squad, days: int, spike: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One 60-minute session a day at RPE 4 for ``days`` days, then today 180 minutes at
    RPE ``spike``."""
    made = []
    for back in range(days, -1, -1):
        start = started_at(TODAY - timedelta(days=back), 0)
        minutes = 180 if back == 0 else 60
        session = await api.session(squad.team, squad.coach, start=start, minutes=minutes)
        response = await api.client.post(
            f"/performance/sessions/{session['id']}/srpe",
            json={
                "membership_id": squad.player_membership["id"],
                "rpe_0_10": spike if back == 0 else 4,
            },
            headers=squad.player.headers,
        )
        assert response.status_code == 201, response.text
        made.append(session)
    return squad.team, made


async def _acwr_today(client: httpx.AsyncClient, squad: Squad) -> dict[str, Any]:
    response = await client.get(
        f"/performance/members/{squad.player_membership['id']}/acwr",
        params={"from": TODAY.isoformat()},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text
    point: dict[str, Any] = response.json()["points"][0]
    return point


@pytest.mark.parametrize(
    ("danger", "kind", "severity"), [(1.4, "ACWR_DANGER", "red"), (9.0, "ACWR_HIGH", "amber")]
)
async def test_an_acwr_spike_on_the_newest_day_raises_one_alert(
    client: httpx.AsyncClient,
    squad: Squad,
    api: Api,
    sessionmaker: async_sessionmaker[AsyncSession],
    danger: float,
    kind: str,
    severity: str,
) -> None:
    response = await client.patch(
        f"/teams/{squad.team['id']}",
        json={"acwr": {"high": 1.3, "danger": danger}},
        headers=squad.owner.headers,
    )
    assert response.status_code == 200, response.text
    await _training(api, squad, 30, spike=10)
    await acwr_jobs.recompute_dirty(sessionmaker)
    assert await alerts.raise_due_alerts(sessionmaker, team_ids=[squad.team["id"]]) == 1
    assert await alerts.raise_due_alerts(sessionmaker, team_ids=[squad.team["id"]]) == 0
    point = await _acwr_today(client, squad)
    assert point["zone"] == ("danger" if kind == "ACWR_DANGER" else "high")
    found = await _alerts(client, squad)
    assert [(a["kind"], a["severity"], a["date"]) for a in found] == [
        (kind, severity, TODAY.isoformat())
    ]
    evidence = found[0]["evidence"]
    assert evidence["rule"] == "acwr_zone"
    assert (evidence["params"]["high"], evidence["params"]["danger"]) == (1.3, danger)
    inputs = evidence["inputs"]
    assert inputs["ratio"] == pytest.approx(point["ratio"])
    assert inputs["acute"] == pytest.approx(point["acute_ewma"])
    assert inputs["chronic"] == pytest.approx(point["chronic_ewma"])
    assert inputs["coverage"] == pytest.approx(point["coverage"])
    assert inputs["load"] == 1800


async def test_steady_loads_raise_no_acwr_alert(
    client: httpx.AsyncClient,
    squad: Squad,
    api: Api,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _training(api, squad, 30, spike=1)
    await acwr_jobs.recompute_dirty(sessionmaker)
    assert await alerts.raise_due_alerts(sessionmaker, team_ids=[squad.team["id"]]) == 0
    assert await _alerts(client, squad) == []


async def test_an_attended_session_without_srpe_raises_missing_srpe_after_24_hours(
    client: httpx.AsyncClient,
    squad: Squad,
    api: Api,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    player, teammate = squad.player_membership["id"], squad.teammate_membership["id"]
    old = await api.session(squad.team, squad.coach, start=NOW - timedelta(hours=30), minutes=60)
    also_old = await api.session(
        squad.team, squad.coach, start=NOW - timedelta(hours=28), minutes=60
    )
    recent = await api.session(squad.team, squad.coach, start=NOW - timedelta(hours=3))
    for session in (old, also_old, recent):
        response = await client.post(
            f"/performance/sessions/{session['id']}/attendance",
            json=[
                {"membership_id": player, "status": "LATE", "minutes_participated": 60},
                {"membership_id": teammate, "status": "PRESENT", "minutes_participated": 60},
            ],
            headers=squad.coach.headers,
        )
        assert response.status_code == 200, response.text
        rated = await client.post(
            f"/performance/sessions/{session['id']}/srpe",
            json={"membership_id": teammate, "rpe_0_10": 5},
            headers=squad.teammate.headers,
        )
        assert rated.status_code == 201, rated.text
    assert await alerts.raise_due_alerts(sessionmaker, team_ids=[squad.team["id"]]) >= 1
    assert await alerts.raise_due_alerts(sessionmaker, team_ids=[squad.team["id"]]) == 0
    found = await _alerts(client, squad, kind="MISSING_SRPE")
    assert {a["membership_id"] for a in found} == {player}
    listed = [s["session_id"] for a in found for s in a["evidence"]["inputs"]["sessions"]]
    assert sorted(listed) == sorted([old["id"], also_old["id"]])
    assert recent["id"] not in listed
    assert all(a["severity"] == "amber" for a in found)
    assert all(
        s["attendance"] == "LATE" for a in found for s in a["evidence"]["inputs"]["sessions"]
    )
    assert found[0]["evidence"]["params"]["after_hours"] == 24


async def test_staff_only_and_other_teams_see_nothing(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    await _wellness(client, squad, mood=1)
    alert = (await _alerts(client, squad))[0]
    url = f"/teams/{squad.team['id']}/alerts"
    assert (await client.get(url, headers=squad.player.headers)).status_code == 403
    assert (await client.get(url, headers=squad.outsider.headers)).status_code == 404
    assert (await client.get(url)).status_code == 401
    ack = f"/alerts/{alert['id']}/ack"
    assert (await client.post(ack, headers=squad.player.headers)).status_code == 403
    assert (await client.post(ack, headers=squad.outsider.headers)).status_code == 404
    assert (await client.post("/alerts/999999/ack", headers=squad.coach.headers)).status_code == 404
    assert (await client.get(url, headers=squad.owner.headers)).status_code == 200
    assert (await client.get(url, headers=squad.admin.headers)).status_code == 200


async def test_acknowledging_closes_an_alert_and_keeps_the_first_time(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    await _wellness(client, squad, mood=1)
    alert = (await _alerts(client, squad))[0]
    first = await client.post(f"/alerts/{alert['id']}/ack", headers=squad.coach.headers)
    assert first.status_code == 200, first.text
    acked = first.json()
    assert acked["acknowledged_by"] == squad.coach.id
    assert acked["acknowledged_at"] is not None
    again = await client.post(f"/alerts/{alert['id']}/ack", headers=squad.owner.headers)
    assert again.status_code == 200
    assert again.json()["acknowledged_at"] == acked["acknowledged_at"]
    assert again.json()["acknowledged_by"] == squad.coach.id
    assert await _alerts(client, squad) == []
    assert [a["id"] for a in await _alerts(client, squad, status="all")] == [alert["id"]]


async def test_lists_are_newest_first_and_paged(client: httpx.AsyncClient, squad: Squad) -> None:
    for back in (2, 0, 1):
        response = await client.post(
            "/performance/wellness",
            json={
                "membership_id": squad.player_membership["id"],
                "date": (TODAY - timedelta(days=back)).isoformat(),
                "sleep_quality": 1,
                "mood": 3,
                "soreness": 3,
            },
            headers=squad.player.headers,
        )
        assert response.status_code == 201, response.text
    found = await _alerts(client, squad)
    assert [a["date"] for a in found] == [
        (TODAY - timedelta(days=back)).isoformat() for back in (0, 1, 2)
    ]
    url = f"/teams/{squad.team['id']}/alerts"
    page = await client.get(url, params={"limit": 1, "offset": 1}, headers=squad.coach.headers)
    assert [a["id"] for a in page.json()] == [found[1]["id"]]
    bad = await client.get(url, params={"status": "closed"}, headers=squad.coach.headers)
    assert bad.status_code == 422
    assert (
        await client.get(url, params={"limit": 1001}, headers=squad.coach.headers)
    ).status_code == 422


async def test_the_scheduled_acwr_job_raises_alerts_right_after_its_refresh(
    client: httpx.AsyncClient,
    squad: Squad,
    api: Api,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _training(api, squad, 30, spike=10)
    jobs = scheduler.Scheduler(cast(Any, None), sessionmaker, cast(Any, None))
    await jobs._dirty()  # the every-minute job: refresh the marked athletes, then alerts
    assert [a["kind"] for a in await _alerts(client, squad)] == ["ACWR_DANGER"]
