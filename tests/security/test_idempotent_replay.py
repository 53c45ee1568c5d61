"""An idempotent replay is authorised again under today's rules (contract, Roles).

Found by the outside review (issue 10 item 7): an owner who had been deactivated repeated
an ``Idempotency-Key`` and got the stored 201, with the outbound webhook's secret in it.
"""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.config import Settings
from tests.fixtures.actors import PASSWORD, Api, Squad

HOOK = {"url": "http://127.0.0.1:9/hook", "events": ["alert.created"]}


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"outbound_allow_private": True})


async def _create_hook(client: httpx.AsyncClient, squad: Squad, key: str) -> httpx.Response:
    return await client.post(
        f"/teams/{squad.team['id']}/outbound-webhooks",
        json=HOOK,
        headers=squad.owner.headers | {"Idempotency-Key": key},
    )


async def _hooks(client: httpx.AsyncClient, squad: Squad, api: Api) -> list[dict[str, object]]:
    admin = await api.user("auditor", admin=True)
    response = await client.get(
        f"/teams/{squad.team['id']}/outbound-webhooks", headers=admin.headers
    )
    assert response.status_code == 200, response.text
    hooks: list[dict[str, object]] = response.json()
    return hooks


async def test_a_replay_still_allowed_gets_the_stored_answer_and_does_nothing_again(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    first = await _create_hook(client, squad, "hook-1")
    assert first.status_code == 201, first.text
    again = await _create_hook(client, squad, "hook-1")
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await _hooks(client, squad, api)) == 1  # today's check ran, and was undone


async def test_a_deactivated_owner_replaying_gets_todays_404_and_no_secret(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    first = await _create_hook(client, squad, "hook-2")
    assert first.status_code == 201, first.text
    second_owner = await api.user("second-owner")
    await api.join(squad.team, squad.owner, second_owner, role="OWNER")
    members = await client.get(f"/teams/{squad.team['id']}/members", headers=squad.owner.headers)
    own = next(m for m in members.json() if m["user"]["id"] == squad.owner.id)
    deactivated = await client.patch(
        f"/teams/{squad.team['id']}/members/{own['id']}",
        json={"active": False},
        headers=second_owner.headers,
    )
    assert deactivated.status_code == 200, deactivated.text
    replay = await _create_hook(client, squad, "hook-2")
    assert replay.status_code == 404, replay.text
    assert replay.headers["content-type"] == "application/problem+json"
    assert "secret" not in replay.text
    assert "idempotent-replayed" not in replay.headers
    assert len(await _hooks(client, squad, api)) == 1


async def test_a_deactivated_player_replaying_a_check_in_gets_todays_409(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    body = {
        "membership_id": squad.player_membership["id"],
        "sleep_quality": 4,
        "mood": 4,
        "soreness": 4,
    }
    headers = squad.player.headers | {"Idempotency-Key": "morning-7"}
    first = await client.post("/performance/wellness", json=body, headers=headers)
    assert first.status_code == 201, first.text
    deactivated = await client.patch(
        f"/teams/{squad.team['id']}/members/{squad.player_membership['id']}",
        json={"active": False},
        headers=squad.owner.headers,
    )
    assert deactivated.status_code == 200, deactivated.text
    replay = await client.post("/performance/wellness", json=body, headers=headers)
    assert replay.status_code == 409, replay.text
    assert "inactive" in replay.json()["detail"]


async def test_a_replay_meeting_what_the_first_request_did_is_still_the_stored_201(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    """Adding a member twice is a 409 today (they exist): that is the first request's own
    doing, so the repeat gets the stored 201 (offline clients retry after a lost answer)."""
    newcomer = {"email": "newcomer@example.com", "full_name": "New Comer", "role": "PLAYER"}
    headers = squad.coach.headers | {"Idempotency-Key": "add-newcomer"}
    url = f"/teams/{squad.team['id']}/members"
    first = await client.post(url, json=newcomer, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post(url, json=newcomer, headers=headers)
    assert (again.status_code, again.content) == (201, first.content)


async def test_a_refresh_is_never_replayed_even_with_a_bearer_header(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    """Clients send the bearer header and an Idempotency-Key on every call. A refresh is
    authenticated by its body, not by the header, so a repeat is never answered from the
    store (that would hand the next token pair to whoever holds a used refresh token and
    an access token) nor dry-run: the refresh tokens' own reuse rule applies, as it does
    without the header."""
    signed_in = await client.post(
        "/auth/token", data={"username": squad.player.email, "password": PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    headers = squad.player.headers | {"Idempotency-Key": "refresh-1"}
    body = {"refresh_token": signed_in.json()["refresh_token"]}
    first = await client.post("/auth/refresh", json=body, headers=headers)
    assert first.status_code == 200, first.text
    again = await client.post("/auth/refresh", json=body, headers=headers)
    assert again.status_code == 401
    assert "idempotent-replayed" not in again.headers
    assert first.json()["access_token"] not in again.text


async def test_sign_ins_with_a_key_are_not_counted_again_by_replays(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    """A sign-in is never replayed either: each of these is a real sign-in (a dry run of
    each would also have counted an attempt, and six retries locked the user out)."""
    headers = squad.player.headers | {"Idempotency-Key": "sign-in-1"}
    form = {"username": squad.player.email, "password": PASSWORD}
    answers = [await client.post("/auth/token", data=form, headers=headers) for _ in range(8)]
    assert [a.status_code for a in answers] == [200] * 8
    assert not [a for a in answers if "idempotent-replayed" in a.headers]
    assert len({a.json()["refresh_token"] for a in answers}) == 8


async def test_a_replay_shows_only_the_fields_todays_rules_show(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    """Found by the review of issue 12: a physio recorded a stage (the answer carried the
    problem's diagnosis), was then made a coach (still staff, so the replay is allowed) and
    repeated the request: the replay is the stored answer without the clinical fields that
    a coach no longer reads, its other values as first sent."""
    physio = await api.user("physio")
    physio_membership = await api.join(squad.team, squad.owner, physio, role="MEDICAL")
    onset = datetime.now(UTC).date() - timedelta(days=2)
    created = await client.post(
        f"/performance/members/{squad.player_membership['id']}/health-problems",
        json={
            "kind": "INJURY",
            "onset_date": onset.isoformat(),
            "context": "OTHER",
            "diagnosis": "Grade 2 hamstring strain",
        },
        headers=physio.headers,
    )
    assert created.status_code == 201, created.text
    url = f"/health-problems/{created.json()['id']}/stages"
    stage = {"from": (onset + timedelta(days=1)).isoformat(), "availability": "MODIFIED"}
    headers = physio.headers | {"Idempotency-Key": "stage-1"}
    first = await client.post(url, json=stage, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["diagnosis"] == "Grade 2 hamstring strain"
    made_coach = await client.patch(
        f"/teams/{squad.team['id']}/members/{physio_membership['id']}",
        json={"role": "COACH"},
        headers=squad.owner.headers,
    )
    assert made_coach.status_code == 200, made_coach.text
    again = await client.post(url, json=stage, headers=headers)
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert "hamstring" not in again.text
    assert not {"diagnosis", "osiics_code", "clinical_notes"} & again.json().keys()
    first_seen = {k: v for k, v in first.json().items() if k in again.json()}
    assert again.json() == first_seen
