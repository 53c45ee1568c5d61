"""Reading the audit log: a team's owners (filters, days in the team's zone, paging) and the
athlete about themselves (every team, UTC days, never another athlete's entries)."""

from datetime import UTC, datetime
from typing import Any

import httpx

from app.models import AuditAction, AuditEntry, AuditResource
from tests.fixtures.actors import Api, Squad


async def _get(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[Any]:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()
    return found


async def _store(api: Api, *entries: dict[str, Any]) -> list[int]:
    """Entries at chosen instants (the log takes inserts; only changes are refused)."""
    async with api.sessionmaker.begin() as db:
        rows = [
            AuditEntry(
                action=AuditAction.READ,
                resource=AuditResource.WELLNESS,
                request_id="stored-by-test",
                **entry,
            )
            for entry in entries
        ]
        db.add_all(rows)
        await db.flush()
        return [row.id for row in rows]


async def test_owners_read_what_staff_did_with_the_name_of_who_did_it(
    api: Api, squad: Squad
) -> None:
    team, member = squad.team["id"], squad.player_membership["id"]
    read = await api.client.get(
        f"/performance/members/{member}/wellness", headers=squad.coach.headers
    )
    roster = await api.client.get(f"/teams/{team}/roster", headers=squad.coach.headers)
    log = await _get(api.client, f"/teams/{team}/audit", squad.owner.headers)
    assert [(e["resource"], e["membership_id"]) for e in log] == [
        ("wellness", member),
        ("team_view", None),
    ]
    first = log[0]
    assert first == {
        "id": first["id"],
        "at": first["at"],
        "actor_user_id": squad.coach.id,
        "actor_full_name": "Coach",
        "action": "read",
        "resource": "wellness",
        "team_id": team,
        "membership_id": member,
        "resource_id": None,
        "request_id": read.headers["x-request-id"],
    }
    assert log[1]["request_id"] == roster.headers["x-request-id"]
    assert datetime.fromisoformat(first["at"]).tzinfo is not None
    # the owner's own reading of the log is not health data: nothing was appended
    again = await _get(api.client, f"/teams/{team}/audit", squad.owner.headers)
    assert again == log


async def test_only_owners_read_the_teams_log(api: Api, squad: Squad) -> None:
    url = f"/teams/{squad.team['id']}/audit"
    for actor in (squad.coach, squad.player):
        response = await api.client.get(url, headers=actor.headers)
        assert response.status_code == 403, response.text
    response = await api.client.get(url, headers=squad.outsider.headers)
    assert response.status_code == 404, response.text
    assert (await api.client.get(url)).status_code == 401


async def test_the_owners_filters_and_pages(api: Api, squad: Squad) -> None:
    """from/to are days in the team's zone (New York, UTC-5 in January), both included;
    oldest first."""
    owner = squad.owner
    team = await api.team(owner, timezone="America/New_York")
    await api.join(team, owner, squad.coach, role="COACH")  # named in the log as its member
    member, other = 9101, 9102  # the log keeps ids, not rows: any will do
    ids = await _store(
        api,
        # 2026-01-09 22:30 in New York
        {
            "at": datetime(2026, 1, 10, 3, 30, tzinfo=UTC),
            "actor_user_id": squad.coach.id,
            "team_id": team["id"],
            "membership_id": member,
        },
        # 2026-01-10 00:30 in New York
        {
            "at": datetime(2026, 1, 10, 5, 30, tzinfo=UTC),
            "actor_user_id": owner.id,
            "team_id": team["id"],
            "membership_id": other,
        },
        # 2026-01-10 23:30 in New York (01-11 in UTC)
        {
            "at": datetime(2026, 1, 11, 4, 30, tzinfo=UTC),
            "actor_user_id": squad.coach.id,
            "team_id": team["id"],
            "membership_id": member,
        },
        # 2026-01-11 00:30 in New York
        {
            "at": datetime(2026, 1, 11, 5, 30, tzinfo=UTC),
            "actor_user_id": squad.coach.id,
            "team_id": team["id"],
            "membership_id": member,
        },
        # another team's entry, on the same day
        {
            "at": datetime(2026, 1, 10, 12, 0, tzinfo=UTC),
            "actor_user_id": squad.coach.id,
            "team_id": squad.team["id"],
            "membership_id": member,
        },
    )
    url = f"/teams/{team['id']}/audit"

    async def seen(query: str) -> list[int]:
        return [e["id"] for e in await _get(api.client, f"{url}?{query}", owner.headers)]

    assert await seen("") == ids[:4]
    assert await seen("from=2026-01-10&to=2026-01-10") == ids[1:3]
    assert await seen("from=2026-01-10") == ids[1:4]
    assert await seen("to=2026-01-09") == ids[:1]
    assert await seen(f"membership_id={member}") == [ids[0], ids[2], ids[3]]
    assert await seen(f"actor_user_id={owner.id}") == [ids[1]]
    assert await seen(f"membership_id={member}&actor_user_id={owner.id}") == []
    assert await seen("limit=2") == ids[:2]
    assert await seen("limit=2&offset=2") == ids[2:4]
    assert await seen("limit=2&offset=4") == []
    entry = (await _get(api.client, f"{url}?limit=1", owner.headers))[0]
    assert entry["actor_full_name"] == "Coach"


async def test_bad_filters_are_422_naming_the_field(api: Api, squad: Squad) -> None:
    url = f"/teams/{squad.team['id']}/audit"
    for query, field in (
        ("limit=1001", "limit"),
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
        ("from=2026-03-11&to=2026-03-10", "from"),
        ("from=2026-13-01", "from"),
        ("membership_id=abc", "membership_id"),
    ):
        for path, headers in (
            (url, squad.owner.headers),
            ("/auth/me/audit", squad.player.headers),
        ):
            if field == "membership_id" and path != url:
                continue
            response = await api.client.get(f"{path}?{query}", headers=headers)
            assert response.status_code == 422, (query, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert [e["loc"] for e in response.json()["errors"]] == [["query", field]], query


async def test_the_athlete_sees_who_touched_their_data_in_every_team_and_nothing_else(
    api: Api, squad: Squad
) -> None:
    player = squad.player
    other_team = (await api.client.get("/teams", headers=squad.outsider.headers)).json()[0]
    elsewhere = await api.join(other_team, squad.outsider, player)
    here, mate = squad.player_membership["id"], squad.teammate_membership["id"]

    async def read_wellness(membership: int, headers: dict[str, str]) -> None:
        url = f"/performance/members/{membership}/wellness"
        assert (await api.client.get(url, headers=headers)).status_code == 200

    await read_wellness(here, squad.coach.headers)
    await read_wellness(elsewhere["id"], squad.outsider.headers)
    await read_wellness(mate, squad.coach.headers)  # the teammate's data: not the player's
    await read_wellness(here, player.headers)  # their own read: not recorded
    roster = await api.client.get(f"/teams/{squad.team['id']}/roster", headers=squad.coach.headers)
    assert roster.status_code == 200  # a team view names no athlete

    mine = await _get(api.client, "/auth/me/audit", player.headers)
    assert [(e["team_id"], e["membership_id"], e["actor_full_name"]) for e in mine] == [
        (squad.team["id"], here, "Coach"),
        (other_team["id"], elsewhere["id"], "Outsider"),
    ]
    theirs = await _get(api.client, "/auth/me/audit", squad.teammate.headers)
    assert [(e["membership_id"], e["actor_user_id"]) for e in theirs] == [(mate, squad.coach.id)]
    assert await _get(api.client, "/auth/me/audit", squad.coach.headers) == []
    assert await _get(api.client, "/auth/me/audit?limit=1&offset=1", player.headers) == mine[1:]


async def test_the_athletes_days_are_utc_days(api: Api, squad: Squad) -> None:
    here = squad.player_membership["id"]
    ids = await _store(
        api,
        {
            "at": datetime(2026, 3, 9, 23, 59, tzinfo=UTC),
            "actor_user_id": squad.coach.id,
            "team_id": squad.team["id"],
            "membership_id": here,
        },
        {
            "at": datetime(2026, 3, 10, 0, 0, tzinfo=UTC),
            "actor_user_id": squad.coach.id,
            "team_id": squad.team["id"],
            "membership_id": here,
        },
        {
            "at": datetime(2026, 3, 10, 23, 59, tzinfo=UTC),
            "actor_user_id": None,
            "team_id": squad.team["id"],
            "membership_id": here,
        },
    )
    found = await _get(
        api.client, "/auth/me/audit?from=2026-03-10&to=2026-03-10", squad.player.headers
    )
    assert [e["id"] for e in found] == ids[1:]
    assert found[1]["actor_user_id"] is None and found[1]["actor_full_name"] is None
