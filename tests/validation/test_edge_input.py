"""Odd input found in review: each one is a 4xx naming the field, never a 5xx."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fixtures.actors import Api, Squad


def _session_body(squad: Squad, **fields: Any) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(hours=3)
    return {
        "team_id": squad.team["id"],
        "title": "Training",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
    } | fields


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"start": "0001-01-01T00:00:00+01:00"}, ["body", "start"]),
        (
            {"start": "9999-12-31T22:00:00-05:00", "end": "9999-12-31T23:00:00-05:00"},
            ["body", "start"],
        ),
        ({"start": 1700000000}, ["body", "start"]),
        ({"title": "Gym\u0000"}, ["body", "title"]),
        ({"team_id": True}, ["body", "team_id"]),
    ],
)
async def test_session_input_out_of_bounds(
    client: httpx.AsyncClient, squad: Squad, fields: dict[str, Any], loc: list[str]
) -> None:
    response = await client.post(
        "/performance/sessions", json=_session_body(squad, **fields), headers=squad.coach.headers
    )
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]]
    listed = await client.get(
        "/performance/sessions", params={"team_id": squad.team["id"]}, headers=squad.coach.headers
    )
    assert listed.json() == []


@pytest.mark.parametrize(
    ("value", "field"),
    [(True, "rpe_0_10"), ("7.5", "rpe_0_10"), (1e-7, "rpe_0_10"), (True, "duration_min")],
)
async def test_srpe_numbers_must_be_json_numbers(
    client: httpx.AsyncClient, squad: Squad, api: Api, value: Any, field: str
) -> None:
    session = await api.session(squad.team, squad.coach)
    body = {"membership_id": squad.player_membership["id"], "rpe_0_10": 5} | {field: value}
    response = await client.post(
        f"/performance/sessions/{session['id']}/srpe", json=body, headers=squad.player.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", field]


@pytest.mark.parametrize(
    "acwr",
    [{"acute_days": True}, {"low": 1e-320}, {"danger": "1.5"}],
)
async def test_acwr_settings_refuse_odd_numbers(
    client: httpx.AsyncClient, squad: Squad, acwr: dict[str, Any]
) -> None:
    response = await client.patch(
        f"/teams/{squad.team['id']}", json={"acwr": acwr}, headers=squad.owner.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][:3] == ["body", "acwr", next(iter(acwr))]


async def test_non_finite_json_numbers_are_refused(client: httpx.AsyncClient, squad: Squad) -> None:
    response = await client.patch(
        f"/teams/{squad.team['id']}",
        content=b'{"acwr": {"danger": Infinity}}',
        headers=squad.owner.headers | {"content-type": "application/json"},
    )
    assert response.status_code in (400, 422)
    team = await client.get(f"/teams/{squad.team['id']}", headers=squad.owner.headers)
    assert team.json()["acwr"]["danger"] == 1.4


@pytest.mark.parametrize("zone", ["localtime", "Factory", "Mars/Olympus"])
async def test_zones_that_are_not_places_are_refused(
    client: httpx.AsyncClient, squad: Squad, zone: str
) -> None:
    response = await client.post(
        "/teams", json={"name": "X", "timezone": zone}, headers=squad.owner.headers
    )
    assert response.status_code == 422


@pytest.mark.parametrize("route", ["daily-loads", "acwr", "load-summary", "wellness", "hrv"])
async def test_series_dates_before_2000_are_refused(
    client: httpx.AsyncClient, squad: Squad, route: str
) -> None:
    response = await client.get(
        f"/performance/members/{squad.player_membership['id']}/{route}",
        params={"from": "0001-01-01", "to": "0001-01-05"},
        headers=squad.coach.headers,
    )
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["errors"]} >= {("query", "to")}


async def test_session_list_with_from_after_to_is_422(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    response = await client.get(
        "/performance/sessions",
        params={"team_id": squad.team["id"], "from": "2026-05-02", "to": "2026-05-01"},
        headers=squad.coach.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "from"]


async def test_a_player_writing_for_their_own_inactive_membership_gets_409(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    await client.patch(
        f"/teams/{squad.team['id']}/members/{squad.player_membership['id']}",
        json={"active": False},
        headers=squad.owner.headers,
    )
    response = await client.post(
        "/performance/wellness",
        json={
            "membership_id": squad.player_membership["id"],
            "sleep_quality": 3,
            "mood": 3,
            "soreness": 3,
        },
        headers=squad.player.headers,
    )
    assert response.status_code == 409


async def test_nul_in_login_is_a_plain_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/token", data={"username": "a\u0000@b.c", "password": "x" * 8}
    )
    assert response.status_code == 401


async def test_idempotent_replay_ignores_json_spacing(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    headers = squad.player.headers | {
        "Idempotency-Key": "morning-1",
        "content-type": "application/json",
    }
    member = squad.player_membership["id"]
    spaced = f'{{"membership_id": {member}, "sleep_quality": 4, "mood": 4, "soreness": 4}}'
    first = await client.post("/performance/wellness", content=spaced.encode(), headers=headers)
    again = await client.post(
        "/performance/wellness",
        content=f'{{"soreness":4,"mood":4,"sleep_quality":4,"membership_id":{member}}}'.encode(),
        headers=headers,
    )
    assert first.status_code == 201
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
