"""The team's reminder settings: in the team's answer, changed (partially) by owners."""

import httpx
import pytest

from tests.fixtures.actors import Squad


async def _patch(client: httpx.AsyncClient, squad: Squad, reminders: object) -> httpx.Response:
    return await client.patch(
        f"/teams/{squad.team['id']}", json={"reminders": reminders}, headers=squad.owner.headers
    )


async def test_reminders_are_off_until_an_owner_sets_them(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    assert squad.team["reminders"] == {"wellness_at": None, "srpe_after_minutes": None}

    response = await _patch(client, squad, {"wellness_at": "08:30"})
    assert response.status_code == 200, response.text
    assert response.json()["reminders"] == {"wellness_at": "08:30", "srpe_after_minutes": None}

    # A partial object changes only the fields given, like acwr.
    response = await _patch(client, squad, {"srpe_after_minutes": 30})
    assert response.json()["reminders"] == {"wellness_at": "08:30", "srpe_after_minutes": 30}
    fetched = await client.get(f"/teams/{squad.team['id']}", headers=squad.player.headers)
    assert fetched.json()["reminders"] == {"wellness_at": "08:30", "srpe_after_minutes": 30}

    # null turns one off; the other stays.
    response = await _patch(client, squad, {"wellness_at": None})
    assert response.json()["reminders"] == {"wellness_at": None, "srpe_after_minutes": 30}


@pytest.mark.parametrize(
    ("reminders", "field"),
    [
        ({"wellness_at": "24:00"}, "wellness_at"),
        ({"wellness_at": "8:30"}, "wellness_at"),
        ({"wellness_at": "08:30:00"}, "wellness_at"),
        ({"wellness_at": 830}, "wellness_at"),
        ({"srpe_after_minutes": -1}, "srpe_after_minutes"),
        ({"srpe_after_minutes": 1441}, "srpe_after_minutes"),
        ({"srpe_after_minutes": "30"}, "srpe_after_minutes"),
        ({"srpe_after_minutes": 30, "sms": True}, "sms"),
    ],
)
async def test_bad_settings_are_422_naming_the_field_and_change_nothing(
    client: httpx.AsyncClient, squad: Squad, reminders: dict[str, object], field: str
) -> None:
    assert (await _patch(client, squad, {"wellness_at": "07:00"})).status_code == 200
    response = await _patch(client, squad, reminders)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert ["body", "reminders", field] in [e["loc"][:3] for e in response.json()["errors"]]
    fetched = await client.get(f"/teams/{squad.team['id']}", headers=squad.owner.headers)
    assert fetched.json()["reminders"] == {"wellness_at": "07:00", "srpe_after_minutes": None}


async def test_the_whole_object_cannot_be_null_and_coaches_cannot_change_it(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    response = await _patch(client, squad, None)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][:2] == ["body", "reminders"]
    response = await client.patch(
        f"/teams/{squad.team['id']}",
        json={"reminders": {"wellness_at": "08:00"}},
        headers=squad.coach.headers,
    )
    assert response.status_code == 403
    assert (await _patch(client, squad, {})).json()["reminders"]["wellness_at"] is None
