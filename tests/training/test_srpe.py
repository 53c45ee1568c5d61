"""Session-RPE: load arithmetic, default durations, create vs update, delete, visibility."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.fixtures.actors import Api, Squad


def _url(session: dict[str, object]) -> str:
    return f"/performance/sessions/{session['id']}/srpe"


@pytest.mark.parametrize(
    ("rpe", "minutes", "load"),
    [
        (7.5, 45, 338),
        (7.3, 45, 329),
        (0.5, 1, 1),
        (2.5, 3, 8),
        (10, 600, 6000),
        (0, 60, 0),
        (6.1, 30, 183),
    ],
)
async def test_load_is_rpe_times_minutes_with_halves_up(
    client: httpx.AsyncClient, squad: Squad, api: Api, rpe: float, minutes: int, load: int
) -> None:
    session = await api.session(squad.team, squad.coach)
    response = await client.post(
        _url(session),
        json={
            "membership_id": squad.player_membership["id"],
            "rpe_0_10": rpe,
            "duration_min": minutes,
        },
        headers=squad.player.headers,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["load_au"] == load
    assert (body["rpe_0_10"], body["duration_min"]) == (rpe, minutes)
    assert body["session_id"] == session["id"]


async def test_duration_defaults_to_attendance_then_session_length(
    client: httpx.AsyncClient, squad: Squad, api: Api
) -> None:
    session = await api.session(squad.team, squad.coach, minutes=80)
    await client.post(
        f"/performance/sessions/{session['id']}/attendance",
        json=[
            {
                "membership_id": squad.player_membership["id"],
                "status": "LATE",
                "minutes_participated": 50,
            }
        ],
        headers=squad.coach.headers,
    )
    mine = await client.post(
        _url(session),
        json={"membership_id": squad.player_membership["id"], "rpe_0_10": 6},
        headers=squad.player.headers,
    )
    assert (mine.json()["duration_min"], mine.json()["load_au"]) == (50, 300)
    theirs = await client.post(
        _url(session),
        json={"membership_id": squad.teammate_membership["id"], "rpe_0_10": 6},
        headers=squad.teammate.headers,
    )
    assert (theirs.json()["duration_min"], theirs.json()["load_au"]) == (80, 480)


async def test_second_write_updates_and_daily_load_follows(
    client: httpx.AsyncClient, squad: Squad, api: Api
) -> None:
    # Yesterday, so both sessions have happened whatever the time of day the test runs.
    start = datetime.now(UTC).replace(hour=0, minute=5, second=0, microsecond=0) - timedelta(days=1)
    morning = await api.session(squad.team, squad.coach, start=start, minutes=60)
    evening = await api.session(
        squad.team, squad.coach, start=start + timedelta(hours=10), minutes=60
    )
    member = squad.player_membership["id"]
    body = {"membership_id": member, "rpe_0_10": 5, "duration_min": 60}
    assert (
        await client.post(_url(morning), json=body, headers=squad.player.headers)
    ).status_code == 201
    assert (
        await client.post(_url(evening), json=body, headers=squad.player.headers)
    ).status_code == 201
    again = await client.post(
        _url(morning), json=body | {"rpe_0_10": 8}, headers=squad.coach.headers
    )
    assert again.status_code == 200
    assert again.json()["load_au"] == 480
    day = start.date().isoformat()
    assert await _load_on(client, squad, day) == 480 + 300

    removed = await client.delete(f"{_url(evening)}/{member}", headers=squad.player.headers)
    assert removed.status_code == 204
    assert await _load_on(client, squad, day) == 480
    again_removed = await client.delete(f"{_url(evening)}/{member}", headers=squad.player.headers)
    assert again_removed.status_code == 404


async def test_a_player_lists_only_their_own_srpe(
    client: httpx.AsyncClient, squad: Squad, api: Api
) -> None:
    session = await api.session(squad.team, squad.coach)
    for membership in (squad.player_membership, squad.teammate_membership):
        await client.post(
            _url(session),
            json={"membership_id": membership["id"], "rpe_0_10": 4},
            headers=squad.coach.headers,
        )
    staff_view = await client.get(_url(session), headers=squad.coach.headers)
    assert len(staff_view.json()) == 2
    own_view = await client.get(_url(session), headers=squad.player.headers)
    assert [row["membership_id"] for row in own_view.json()] == [squad.player_membership["id"]]


async def test_future_session_and_absent_member_are_409(
    client: httpx.AsyncClient, squad: Squad, api: Api
) -> None:
    future = await api.session(
        squad.team, squad.coach, start=datetime.now(UTC) + timedelta(hours=2)
    )
    body = {"membership_id": squad.player_membership["id"], "rpe_0_10": 5}
    response = await client.post(_url(future), json=body, headers=squad.player.headers)
    assert response.status_code == 409
    past = await api.session(squad.team, squad.coach)
    await client.post(
        f"/performance/sessions/{past['id']}/attendance",
        json=[{"membership_id": squad.player_membership["id"], "status": "ABSENT"}],
        headers=squad.coach.headers,
    )
    absent = await client.post(_url(past), json=body, headers=squad.player.headers)
    assert absent.status_code == 409
    assert (await client.get(_url(past), headers=squad.coach.headers)).json() == []


async def _load_on(client: httpx.AsyncClient, squad: Squad, day: str) -> int:
    response = await client.get(
        f"/performance/members/{squad.player_membership['id']}/daily-loads",
        params={"from": day, "to": day},
        headers=squad.coach.headers,
    )
    [row] = response.json()
    load: int = row["internal_load_au"]
    return load
