"""Sessions: their local day, listing by range, changes and deletion."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.fixtures.actors import Api, Squad


@pytest.mark.parametrize(
    ("zone", "local_start", "utc_start"),
    [
        ("Pacific/Auckland", "2026-03-10T23:30:00+13:00", "2026-03-10T10:30:00Z"),
        ("Pacific/Auckland", "2026-03-11T00:30:00+13:00", "2026-03-10T11:30:00Z"),
        ("America/Los_Angeles", "2026-03-10T23:30:00-07:00", "2026-03-11T06:30:00Z"),
    ],
)
async def test_a_session_counts_on_its_local_day(
    client: httpx.AsyncClient, api: Api, zone: str, local_start: str, utc_start: str
) -> None:
    owner = await api.user("owner")
    player = await api.user("player")
    team = await api.team(owner, timezone=zone)
    membership = await api.join(team, owner, player)
    local_day = local_start[:10]
    # The client sends UTC; the day must still be the local one.
    start = datetime.fromisoformat(utc_start)
    created = await api.session(team, owner, start=start, minutes=60)
    assert created["day"] == local_day
    assert created["start"].startswith(utc_start[:19])

    srpe = await client.post(
        f"/performance/sessions/{created['id']}/srpe",
        json={"membership_id": membership["id"], "rpe_0_10": 5},
        headers=player.headers,
    )
    assert srpe.status_code == 201
    loads = await client.get(
        f"/performance/members/{membership['id']}/daily-loads",
        params={"from": "2026-03-09", "to": "2026-03-12"},
        headers=owner.headers,
    )
    by_day = {row["date"]: row["internal_load_au"] for row in loads.json()}
    assert by_day == {d: (300 if d == local_day else 0) for d in by_day}
    assert len(by_day) == 4


async def test_list_sessions_by_local_days(
    client: httpx.AsyncClient, squad: Squad, api: Api
) -> None:
    base = datetime(2026, 5, 4, 10, tzinfo=UTC)
    for offset in range(5):
        await api.session(
            squad.team, squad.coach, start=base + timedelta(days=offset), title=f"S{offset}"
        )
    listed = await client.get(
        "/performance/sessions",
        params={"team_id": squad.team["id"], "from": "2026-05-05", "to": "2026-05-07"},
        headers=squad.player.headers,
    )
    assert listed.status_code == 200
    assert [s["title"] for s in listed.json()] == ["S1", "S2", "S3"]
    assert [s["duration_min"] for s in listed.json()] == [90, 90, 90]
    # The outsider's own sessions list does not include this team's sessions.
    theirs = await client.get("/performance/sessions", headers=squad.outsider.headers)
    assert theirs.json() == []


async def test_session_fields_round_trip(client: httpx.AsyncClient, squad: Squad) -> None:
    body = {
        "team_id": squad.team["id"],
        "session_type": "MATCH",
        "title": "League round 5",
        "start": "2026-04-18T15:00:00+01:00",
        "end": "2026-04-18T16:40:00+01:00",
        "location": "Home ground",
        "notes": "Kick-off 15:00",
    }
    created = await client.post("/performance/sessions", json=body, headers=squad.coach.headers)
    assert created.status_code == 201
    session = created.json()
    assert session["duration_min"] == 100
    assert session["session_type"] == "MATCH"
    assert (session["location"], session["notes"]) == ("Home ground", "Kick-off 15:00")
    fetched = await client.get(
        f"/performance/sessions/{session['id']}", headers=squad.player.headers
    )
    assert fetched.json() == {**session, "rpe_summary": None}  # a player gets no summary
    without_type = {k: v for k, v in body.items() if k != "session_type"}
    default_type = await client.post(
        "/performance/sessions", json=without_type, headers=squad.coach.headers
    )
    assert default_type.json()["session_type"] == "TECHNICAL"


async def test_moving_a_session_moves_its_load(
    client: httpx.AsyncClient, squad: Squad, api: Api
) -> None:
    start = datetime(2026, 6, 1, 9, tzinfo=UTC)
    session = await api.session(squad.team, squad.coach, start=start, minutes=60)
    member = squad.player_membership["id"]
    await client.post(
        f"/performance/sessions/{session['id']}/srpe",
        json={"membership_id": member, "rpe_0_10": 6},
        headers=squad.player.headers,
    )
    moved = await client.patch(
        f"/performance/sessions/{session['id']}",
        json={"start": "2026-06-03T09:00:00Z", "end": "2026-06-03T10:00:00Z"},
        headers=squad.coach.headers,
    )
    assert moved.status_code == 200
    assert moved.json()["day"] == "2026-06-03"
    loads = await _loads(client, squad, "2026-06-01", "2026-06-03")
    assert loads == {"2026-06-01": 0, "2026-06-02": 0, "2026-06-03": 360}

    deleted = await client.delete(
        f"/performance/sessions/{session['id']}", headers=squad.coach.headers
    )
    assert deleted.status_code == 204
    assert await _loads(client, squad, "2026-06-01", "2026-06-03") == {
        "2026-06-01": 0,
        "2026-06-02": 0,
        "2026-06-03": 0,
    }
    gone = await client.get(f"/performance/sessions/{session['id']}", headers=squad.coach.headers)
    assert gone.status_code == 404


async def test_changing_the_team_zone_moves_days(
    client: httpx.AsyncClient, squad: Squad, api: Api
) -> None:
    # 23:30 UTC on 1 July is 2 July in Auckland.
    session = await api.session(
        squad.team, squad.coach, start=datetime(2026, 7, 1, 23, 30, tzinfo=UTC), minutes=60
    )
    await client.post(
        f"/performance/sessions/{session['id']}/srpe",
        json={"membership_id": squad.player_membership["id"], "rpe_0_10": 4},
        headers=squad.coach.headers,
    )
    response = await client.patch(
        f"/teams/{squad.team['id']}",
        json={"timezone": "Pacific/Auckland"},
        headers=squad.owner.headers,
    )
    assert response.status_code == 200
    fetched = await client.get(
        f"/performance/sessions/{session['id']}", headers=squad.coach.headers
    )
    assert fetched.json()["day"] == "2026-07-02"
    assert await _loads(client, squad, "2026-07-01", "2026-07-02") == {
        "2026-07-01": 0,
        "2026-07-02": 240,
    }


async def test_attendance_bulk_upsert_last_write_wins(
    client: httpx.AsyncClient, squad: Squad, api: Api
) -> None:
    session = await api.session(squad.team, squad.coach)
    url = f"/performance/sessions/{session['id']}/attendance"
    player, teammate = squad.player_membership["id"], squad.teammate_membership["id"]
    first = await client.post(
        url,
        json=[
            {"membership_id": player, "status": "PRESENT", "minutes_participated": 90},
            {"membership_id": teammate, "status": "ABSENT"},
            {"membership_id": teammate, "status": "LATE", "minutes_participated": 60},
        ],
        headers=squad.coach.headers,
    )
    assert first.status_code == 200
    assert first.json() == [
        {"membership_id": player, "status": "PRESENT", "minutes_participated": 90},
        {"membership_id": teammate, "status": "LATE", "minutes_participated": 60},
    ]
    second = await client.post(
        url, json=[{"membership_id": player, "status": "EXCUSED"}], headers=squad.coach.headers
    )
    assert [(a["membership_id"], a["status"]) for a in second.json()] == [
        (player, "EXCUSED"),
        (teammate, "LATE"),
    ]
    listed = await client.get(url, headers=squad.player.headers)
    assert listed.json() == second.json()


async def _loads(client: httpx.AsyncClient, squad: Squad, start: str, end: str) -> dict[str, int]:
    response = await client.get(
        f"/performance/members/{squad.player_membership['id']}/daily-loads",
        params={"from": start, "to": end},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200
    return {row["date"]: row["internal_load_au"] for row in response.json()}
