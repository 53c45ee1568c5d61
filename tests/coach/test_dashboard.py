"""GET /teams/{team_id}/dashboard: the morning report, its numbers checked by hand."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from app.models import Alert, AlertKind, Availability, Severity
from app.models.base import utcnow
from tests.fixtures.actors import Api, Squad, started_at
from tests.fixtures.stored_problems import add_problem, clinical_words_in

TODAY = datetime.now(UTC).date()


def _at(day: date, hour: int = 10) -> datetime:
    return started_at(day, hour)


async def _dashboard(client: httpx.AsyncClient, squad: Squad, **params: str) -> dict[str, Any]:
    response = await client.get(
        f"/teams/{squad.team['id']}/dashboard", params=params, headers=squad.coach.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _session(api: Api, squad: Squad, back: int, status: str, *, rated: bool) -> None:
    """A session ``back`` days ago where the player's attendance is ``status``."""
    session = await api.session(squad.team, squad.coach, start=_at(TODAY - timedelta(days=back)))
    member = squad.player_membership["id"]
    response = await api.client.post(
        f"/performance/sessions/{session['id']}/attendance",
        json=[{"membership_id": member, "status": status, "minutes_participated": 60}],
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text
    if rated:
        response = await api.client.post(
            f"/performance/sessions/{session['id']}/srpe",
            json={"membership_id": member, "rpe_0_10": 6},
            headers=squad.player.headers,
        )
        assert response.status_code == 201, response.text


async def _wellness(api: Api, squad: Squad, back: int, worst: int = 4) -> None:
    response = await api.client.post(
        "/performance/wellness",
        json={
            "membership_id": squad.player_membership["id"],
            "date": (TODAY - timedelta(days=back)).isoformat(),
            "sleep_quality": worst,
            "mood": 4,
            "soreness": 4,
        },
        headers=squad.player.headers,
    )
    assert response.status_code == 201, response.text


async def test_numbers_of_the_28_days(api: Api, squad: Squad) -> None:
    # Inside the window (today and the 27 days before it): 3 present (2 rated), 1 late
    # (rated), 1 absent, 1 excused. Day 28 back lies outside and must not count.
    await _session(api, squad, 0, "PRESENT", rated=True)
    await _session(api, squad, 3, "PRESENT", rated=True)
    await _session(api, squad, 10, "PRESENT", rated=False)
    await _session(api, squad, 27, "LATE", rated=True)
    await _session(api, squad, 5, "ABSENT", rated=False)
    await _session(api, squad, 6, "EXCUSED", rated=False)
    await _session(api, squad, 28, "PRESENT", rated=True)
    # Wellness on 7 days of the window (today among them, red) and one before it.
    for back in (0, 1, 2, 4, 8, 15, 27):
        await _wellness(api, squad, back, worst=1 if back == 0 else 4)
    await _wellness(api, squad, 28)

    body = await _dashboard(api.client, squad)
    assert body["date"] == TODAY.isoformat()
    players = {p["membership_id"]: p for p in body["players"]}
    assert set(players) == {squad.player_membership["id"], squad.teammate_membership["id"]}
    player = players[squad.player_membership["id"]]
    assert player["full_name"] == "Player"
    assert player["status"] == "red"
    # 8 entries before today: too few for a baseline, so the item at 1 is the reason.
    assert player["reasons"] == [
        {
            "signal": "wellness",
            "level": "red",
            "detail": f"Wellness on {TODAY.isoformat()}: sleep_quality is 1 (an item at 1 is red)",
        }
    ]
    assert player["wellness_submitted"] is True
    # rate = (3 present + 1 late) / 6 recorded; sRPE on 3 of the 4 attended; wellness 7/28.
    assert player["attendance"] == {
        "present": 3,
        "late": 1,
        "absent": 1,
        "excused": 1,
        "rate": 4 / 6,
    }
    # The last 7 days (0 to 6 back): 2 attended, both rated; wellness on days 0, 1, 2, 4.
    assert player["compliance"] == {
        "srpe": 0.75,
        "wellness": 0.25,
        "srpe_7d": 1.0,
        "wellness_7d": 4 / 7,
    }

    teammate = players[squad.teammate_membership["id"]]
    assert teammate == {
        "membership_id": squad.teammate_membership["id"],
        "full_name": "Teammate",
        "status": "no_data",
        "reasons": [],
        "wellness_submitted": False,
        "attendance": {"present": 0, "late": 0, "absent": 0, "excused": 0, "rate": None},
        "compliance": {"srpe": None, "wellness": 0.0, "srpe_7d": None, "wellness_7d": 0.0},
        "availability": "available",
        "health_summary": None,
    }
    assert body["wellness_missing"] == [squad.teammate_membership["id"]]

    # A day back: the window moves (day 28 back counts, today's session and entry do not).
    yesterday = await _dashboard(api.client, squad, date=(TODAY - timedelta(days=1)).isoformat())
    player = {p["membership_id"]: p for p in yesterday["players"]}[squad.player_membership["id"]]
    assert player["attendance"] == {
        "present": 3,
        "late": 1,
        "absent": 1,
        "excused": 1,
        "rate": 4 / 6,
    }
    # Its 7 days are 1 to 7 back: the session 3 back (rated); wellness 1, 2 and 4 back.
    assert player["compliance"] == {
        "srpe": 0.75,
        "wellness": 7 / 28,
        "srpe_7d": 1.0,
        "wellness_7d": 3 / 7,
    }
    assert player["wellness_submitted"] is True  # the entry 1 day back
    assert player["status"] == "green"


async def test_seven_day_compliance_is_the_last_week_of_the_window(api: Api, squad: Squad) -> None:
    # 6 days back lies inside the 7 days, 7 back outside: the week has 1 of 2 attended
    # sessions rated (the absent one does not count), the 28 days 3 of 4.
    await _session(api, squad, 1, "PRESENT", rated=True)
    await _session(api, squad, 6, "LATE", rated=False)
    await _session(api, squad, 4, "ABSENT", rated=False)
    await _session(api, squad, 7, "PRESENT", rated=True)
    await _session(api, squad, 20, "PRESENT", rated=True)
    for back in (6, 7, 8):
        await _wellness(api, squad, back)

    body = await _dashboard(api.client, squad)
    player = {p["membership_id"]: p for p in body["players"]}[squad.player_membership["id"]]
    assert player["compliance"] == {
        "srpe": 0.75,
        "wellness": 3 / 28,
        "srpe_7d": 0.5,
        "wellness_7d": 1 / 7,
    }


async def test_open_alerts_are_the_teams_unacknowledged_ones(api: Api, squad: Squad) -> None:
    member = squad.player_membership["id"]
    async with api.sessionmaker.begin() as session:
        open_alert = Alert(
            team_id=squad.team["id"],
            membership_id=member,
            kind=AlertKind.WELLNESS_RED,
            date=TODAY,
            severity=Severity.RED,
            message="Wellness is red",
            evidence={"rule": "wellness_red", "params": {}, "inputs": {"flag": "red"}},
        )
        acknowledged = Alert(
            team_id=squad.team["id"],
            membership_id=member,
            kind=AlertKind.HRV_DROP,
            date=TODAY,
            severity=Severity.AMBER,
            message="HRV dropped",
            evidence={"rule": "hrv_drop", "params": {}, "inputs": {}},
            acknowledged_at=utcnow(),
            acknowledged_by=squad.coach.id,
        )
        session.add_all([open_alert, acknowledged])
        await session.flush()
        alert_id = open_alert.id
    body = await _dashboard(api.client, squad)
    assert len(body["open_alerts"]) == 1
    alert = body["open_alerts"][0]
    assert {k: alert[k] for k in alert if k != "created_at"} == {
        "id": alert_id,
        "team_id": squad.team["id"],
        "membership_id": member,
        "kind": "WELLNESS_RED",
        "date": TODAY.isoformat(),
        "severity": "red",
        "message": "Wellness is red",
        "evidence": {"rule": "wellness_red", "params": {}, "inputs": {"flag": "red"}},
        "acknowledged_at": None,
        "acknowledged_by": None,
    }
    assert alert["created_at"]


async def test_a_future_date_is_422(client: httpx.AsyncClient, squad: Squad) -> None:
    path = f"/teams/{squad.team['id']}/dashboard"
    tomorrow = (TODAY + timedelta(days=2)).isoformat()
    response = await client.get(path, params={"date": tomorrow}, headers=squad.coach.headers)
    assert response.status_code == 422, response.text
    bad = await client.get(path, params={"date": "yesterday"}, headers=squad.coach.headers)
    assert bad.status_code == 422


async def test_only_the_teams_staff_may_read_it(client: httpx.AsyncClient, squad: Squad) -> None:
    path = f"/teams/{squad.team['id']}/dashboard"
    assert (await client.get(path, headers=squad.player.headers)).status_code == 403
    assert (await client.get(path, headers=squad.outsider.headers)).status_code == 404
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=squad.owner.headers)).status_code == 200


async def test_availability_of_the_reports_day_and_its_counts(api: Api, squad: Squad) -> None:
    """Worked example, today = T:

    Player: a hamstring strain since T-10, unavailable, modified from T-1.
    Teammate: a calf problem T-5 to T-2 (resolved on T-2: open until T-3), modified.
    On T-2: player unavailable ("Hamstring strain"), teammate available (nothing open):
    counts 1 available, 0 modified, 1 unavailable.
    Today: player modified, teammate available: 1 available, 1 modified, 0 unavailable."""
    day = timedelta(days=1)
    player, teammate = squad.player_membership, squad.teammate_membership
    await add_problem(
        api.sessionmaker,
        player,
        TODAY - 10 * day,
        [(TODAY - 10 * day, Availability.UNAVAILABLE), (TODAY - day, Availability.MODIFIED)],
        summary="Hamstring strain",
    )
    await add_problem(
        api.sessionmaker,
        teammate,
        TODAY - 5 * day,
        [(TODAY - 5 * day, Availability.MODIFIED)],
        summary="Calf tightness",
        resolved_on=TODAY - 2 * day,
    )
    before = await _dashboard(api.client, squad, date=(TODAY - 2 * day).isoformat())
    players = {p["membership_id"]: p for p in before["players"]}
    assert (players[player["id"]]["availability"], players[player["id"]]["health_summary"]) == (
        "unavailable",
        "Hamstring strain",
    )
    assert (players[teammate["id"]]["availability"], players[teammate["id"]]["health_summary"]) == (
        "available",
        None,
    )
    assert before["availability_counts"] == {"available": 1, "modified": 0, "unavailable": 1}

    now = await _dashboard(api.client, squad)
    players = {p["membership_id"]: p for p in now["players"]}
    assert players[player["id"]]["availability"] == "modified"
    assert players[teammate["id"]]["availability"] == "available"
    assert now["availability_counts"] == {"available": 1, "modified": 1, "unavailable": 0}


async def test_no_clinical_field_reaches_the_dashboard(api: Api, squad: Squad) -> None:
    """The problem's diagnosis, OSIICS code and clinical notes are stored: the coach's
    dashboard shows its summary and none of the clinical words."""
    await add_problem(
        api.sessionmaker,
        squad.player_membership,
        TODAY,
        [(TODAY, Availability.UNAVAILABLE)],
        summary="Hamstring strain",
    )
    response = await api.client.get(
        f"/teams/{squad.team['id']}/dashboard", headers=squad.coach.headers
    )
    assert response.status_code == 200, response.text
    assert "Hamstring strain" in response.text
    assert clinical_words_in(response.text) == []
