"""Loads, wellness and HRV are kept for PLAYER memberships only (contract, Roles): a
coach writing for their own COACH membership, or staff naming an OWNER membership, get a
422 naming ``membership_id`` and nothing is stored."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fixtures.actors import Api, Squad


def _blames_membership(response: httpx.Response, where: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["loc"] for e in response.json()["errors"]] == [[where, "membership_id"]]


async def _owner_membership(client: httpx.AsyncClient, squad: Squad) -> dict[str, Any]:
    members = await client.get(f"/teams/{squad.team['id']}/members", headers=squad.owner.headers)
    owner: dict[str, Any] = next(m for m in members.json() if m["role"] == "OWNER")
    return owner


@pytest.mark.parametrize("writer", ["coach", "owner"])
async def test_wellness_for_a_staff_membership_is_422_and_not_stored(
    client: httpx.AsyncClient, squad: Squad, writer: str
) -> None:
    target = squad.coach_membership if writer == "coach" else await _owner_membership(client, squad)
    actor = squad.coach if writer == "coach" else squad.owner
    response = await client.post(
        "/performance/wellness",
        json={"membership_id": target["id"], "sleep_quality": 4, "mood": 4, "soreness": 4},
        headers=actor.headers,
    )
    _blames_membership(response, "body")
    listed = await client.get(
        f"/performance/members/{target['id']}/wellness", headers=actor.headers
    )
    assert listed.status_code == 200
    assert listed.json() == []


async def test_srpe_for_the_coachs_own_membership_is_422_and_no_load(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    session = await api.session(squad.team, squad.coach)
    coach_id = squad.coach_membership["id"]
    response = await client.post(
        f"/performance/sessions/{session['id']}/srpe",
        json={"membership_id": coach_id, "rpe_0_10": 6},
        headers=squad.coach.headers,
    )
    _blames_membership(response, "body")
    listed = await client.get(
        f"/performance/sessions/{session['id']}/srpe", headers=squad.coach.headers
    )
    assert listed.json() == []
    loads = await client.get(
        f"/performance/members/{coach_id}/daily-loads", headers=squad.coach.headers
    )
    assert {day["internal_load_au"] for day in loads.json()} == {0}
    # A player's entry in the same session still goes through.
    player = await client.post(
        f"/performance/sessions/{session['id']}/srpe",
        json={"membership_id": squad.player_membership["id"], "rpe_0_10": 6},
        headers=squad.coach.headers,
    )
    assert player.status_code == 201, player.text


async def test_hrv_for_a_coach_membership_is_422_and_not_stored(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    coach_id = squad.coach_membership["id"]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    response = await client.post(
        f"/performance/members/{coach_id}/hrv",
        json={"date": yesterday.isoformat(), "rmssd_ms": 60, "source": "MANUAL"},
        headers=squad.coach.headers,
    )
    _blames_membership(response, "path")
    series = await client.get(
        f"/performance/members/{coach_id}/hrv",
        params={
            "from": (yesterday - timedelta(days=1)).isoformat(),
            "to": date.today().isoformat(),
        },
        headers=squad.coach.headers,
    )
    assert series.status_code == 200
    assert all(day["rmssd_ms"] is None for day in series.json())


async def test_linking_a_device_for_a_coach_membership_is_422(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    response = await client.get(
        "/integrations/whoop/authorize",
        params={"membership_id": squad.coach_membership["id"]},
        headers=squad.coach.headers,
    )
    _blames_membership(response, "query")


async def test_an_outsider_still_gets_404_not_a_422(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    """The PLAYER rule is checked after the caller's rights: it tells a stranger nothing."""
    response = await client.post(
        "/performance/wellness",
        json={
            "membership_id": squad.coach_membership["id"],
            "sleep_quality": 4,
            "mood": 4,
            "soreness": 4,
        },
        headers=squad.outsider.headers,
    )
    assert response.status_code == 404
