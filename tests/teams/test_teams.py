"""Teams, their ACWR settings, seasons and members."""

import httpx

from tests.fixtures.actors import Api, Squad

DEFAULT_ACWR = {
    "method": "williams",
    "acute_days": 7,
    "chronic_days": 28,
    "low": 0.8,
    "high": 1.3,
    "danger": 1.4,
}


async def test_create_team_makes_the_creator_owner(client: httpx.AsyncClient, api: Api) -> None:
    owner = await api.user("owner")
    response = await client.post(
        "/teams", json={"name": "Kiwis", "timezone": "Pacific/Auckland"}, headers=owner.headers
    )
    assert response.status_code == 201
    team = response.json()
    assert team["timezone"] == "Pacific/Auckland"
    assert team["acwr"] == DEFAULT_ACWR
    me = (await client.get("/auth/me", headers=owner.headers)).json()
    assert [(m["team_id"], m["role"]) for m in me["memberships"]] == [(team["id"], "OWNER")]
    listed = (await client.get("/teams", headers=owner.headers)).json()
    assert [t["id"] for t in listed] == [team["id"]]


async def test_timezone_defaults_to_utc(client: httpx.AsyncClient, api: Api) -> None:
    owner = await api.user("owner")
    response = await client.post("/teams", json={"name": "Plain"}, headers=owner.headers)
    assert response.json()["timezone"] == "UTC"


async def test_partial_acwr_change_keeps_other_fields(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    response = await client.patch(
        f"/teams/{squad.team['id']}",
        json={"acwr": {"method": "half_life", "chronic_days": 21}},
        headers=squad.owner.headers,
    )
    assert response.status_code == 200
    assert response.json()["acwr"] == DEFAULT_ACWR | {"method": "half_life", "chronic_days": 21}
    # A partial change is validated against the stored values: acute 7 >= chronic 6 is refused.
    bad = await client.patch(
        f"/teams/{squad.team['id']}",
        json={"acwr": {"chronic_days": 6}},
        headers=squad.owner.headers,
    )
    assert bad.status_code == 422
    team = (await client.get(f"/teams/{squad.team['id']}", headers=squad.owner.headers)).json()
    assert team["acwr"]["chronic_days"] == 21


async def test_seasons(client: httpx.AsyncClient, squad: Squad) -> None:
    url = f"/teams/{squad.team['id']}/seasons"
    created = await client.post(
        url,
        json={"name": "2026/27", "start_date": "2026-07-01", "end_date": "2027-05-31"},
        headers=squad.coach.headers,
    )
    assert created.status_code == 201
    listed = await client.get(url, headers=squad.player.headers)
    assert [s["name"] for s in listed.json()] == ["2026/27"]
    backwards = await client.post(
        url,
        json={"name": "x", "start_date": "2027-01-01", "end_date": "2026-01-01"},
        headers=squad.coach.headers,
    )
    assert backwards.status_code == 422


async def test_members_listed_edited_and_deactivated(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    url = f"/teams/{squad.team['id']}/members"
    members = (await client.get(url, headers=squad.coach.headers)).json()
    assert {m["role"] for m in members} == {"OWNER", "COACH", "PLAYER"}
    assert len(members) == 4
    player = next(m for m in members if m["id"] == squad.player_membership["id"])
    assert player["jersey_number"] == 9
    assert player["user"]["email"] == squad.player.email

    edited = await client.patch(
        f"{url}/{player['id']}",
        json={"primary_position": "Winger", "external_ref": "CAT-9"},
        headers=squad.coach.headers,
    )
    assert edited.status_code == 200
    assert (edited.json()["primary_position"], edited.json()["external_ref"]) == ("Winger", "CAT-9")

    taken = await client.patch(
        f"{url}/{squad.teammate_membership['id']}",
        json={"external_ref": "CAT-9"},
        headers=squad.coach.headers,
    )
    assert taken.status_code == 409

    off = await client.patch(
        f"{url}/{player['id']}", json={"active": False}, headers=squad.owner.headers
    )
    assert off.status_code == 200
    assert off.json()["active"] is False
    # The deactivated player no longer sees the team...
    assert (
        await client.get(f"/teams/{squad.team['id']}", headers=squad.player.headers)
    ).status_code == 404
    # ...but can still read their own history.
    own = await client.get(
        f"/performance/members/{player['id']}/daily-loads", headers=squad.player.headers
    )
    assert own.status_code == 200


async def test_the_last_owner_cannot_leave(client: httpx.AsyncClient, squad: Squad) -> None:
    me = (await client.get("/auth/me", headers=squad.owner.headers)).json()
    own = next(m for m in me["memberships"] if m["team_id"] == squad.team["id"])
    response = await client.patch(
        f"/teams/{squad.team['id']}/members/{own['id']}",
        json={"active": False},
        headers=squad.owner.headers,
    )
    assert response.status_code == 409


async def test_limit_and_offset_page_members(client: httpx.AsyncClient, squad: Squad) -> None:
    url = f"/teams/{squad.team['id']}/members"
    first = (await client.get(url, params={"limit": 2}, headers=squad.coach.headers)).json()
    rest = (
        await client.get(url, params={"limit": 2, "offset": 2}, headers=squad.coach.headers)
    ).json()
    assert len(first) == 2
    assert len(rest) == 2
    assert not {m["id"] for m in first} & {m["id"] for m in rest}
