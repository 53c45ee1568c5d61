"""The team calendar feed: staff-issued tokens, revocation, and the iCalendar it serves."""

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from icalendar import Calendar, Event, vCategory

from tests.fixtures.actors import Api, Squad

PROBLEM = "application/problem+json"


async def _token(client: httpx.AsyncClient, squad: Squad) -> dict[str, Any]:
    response = await client.post(
        f"/teams/{squad.team['id']}/calendar-token", headers=squad.coach.headers
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


async def _feed(client: httpx.AsyncClient, team_id: int, token: str) -> httpx.Response:
    return await client.get(f"/teams/{team_id}/calendar.ics", params={"token": token})


def _events(response: httpx.Response) -> dict[str, Event]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    # walk() is typed as returning Components; walk("VEVENT") only yields Events.
    events = cast(list[Event], calendar.walk("VEVENT"))
    return {str(event["UID"]): event for event in events}


def _start(hours_from_now: int) -> datetime:
    now = datetime.now(UTC).replace(microsecond=0, second=0, minute=0)
    return now + timedelta(hours=hours_from_now)


async def test_staff_get_a_token_and_the_url(client: httpx.AsyncClient, squad: Squad) -> None:
    body = await _token(client, squad)
    team_id = squad.team["id"]
    assert set(body) == {"token", "url"}
    assert len(body["token"]) >= 43
    assert body["url"] == f"http://testserver/teams/{team_id}/calendar.ics?token={body['token']}"
    response = await client.get(body["url"])
    assert response.status_code == 200, response.text
    owner = await client.post(f"/teams/{team_id}/calendar-token", headers=squad.owner.headers)
    assert owner.status_code == 201


async def test_players_outsiders_and_anonymous_callers_get_no_token(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    url = f"/teams/{squad.team['id']}/calendar-token"
    player = await client.post(url, headers=squad.player.headers)
    assert player.status_code == 403
    outsider = await client.post(url, headers=squad.outsider.headers)
    assert outsider.status_code == 404
    anonymous = await client.post(url)
    assert anonymous.status_code == 401
    unknown = await client.post("/teams/999999/calendar-token", headers=squad.coach.headers)
    assert unknown.status_code == 404


async def test_feed_has_one_event_per_session(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    team_id = squad.team["id"]
    tactical = await api.session(
        squad.team,
        squad.coach,
        start=_start(24),
        minutes=75,
        title="Shape",
        session_type="TACTICAL",
        location="Pitch 2",
        notes="Bring bibs; 10:00 sharp",
    )
    recovery = await api.session(
        squad.team, squad.coach, start=_start(-48), title="Pool", session_type="RECOVERY"
    )
    # Left out: older than 90 days, or another team's.
    await api.session(squad.team, squad.coach, start=datetime.now(UTC) - timedelta(days=100))
    other_team = await client.get("/teams", headers=squad.outsider.headers)
    await api.session(other_team.json()[0], squad.outsider, start=_start(2))

    body = await _token(client, squad)
    response = await _feed(client, team_id, body["token"])
    events = _events(response)
    assert response.headers["cache-control"] == "private, no-cache"

    calendar = Calendar.from_ical(response.content)
    assert str(calendar["VERSION"]) == "2.0"
    assert "Loadline" in str(calendar["PRODID"])
    assert str(calendar["X-WR-CALNAME"]) == squad.team["name"]
    assert str(calendar["X-WR-TIMEZONE"]) == "UTC"
    assert "X-PUBLISHED-TTL:PT1H" in response.text
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in response.text

    assert set(events) == {
        f"session-{tactical['id']}@loadline",
        f"session-{recovery['id']}@loadline",
    }
    event = events[f"session-{tactical['id']}@loadline"]
    assert str(event["SUMMARY"]) == "Shape (TACTICAL)"
    assert event.decoded("DTSTART") == _start(24)
    assert event.decoded("DTEND") == _start(24) + timedelta(minutes=75)
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert str(event["LOCATION"]) == "Pitch 2"
    assert str(event["DESCRIPTION"]) == "Bring bibs; 10:00 sharp"
    categories = cast(vCategory, event["CATEGORIES"])  # a property's type is a union of all
    assert [str(c) for c in categories.cats] == ["TACTICAL"]
    assert "DTSTAMP" in event
    pool = events[f"session-{recovery['id']}@loadline"]
    assert str(pool["SUMMARY"]) == "Pool (RECOVERY)"
    assert "LOCATION" not in pool
    assert "DESCRIPTION" not in pool
    # Raw text: UTC times, as calendar apps read them.
    assert f"DTSTART:{_start(24):%Y%m%dT%H%M%S}Z" in response.text


async def test_team_zone_and_empty_feed(client: httpx.AsyncClient, api: Api) -> None:
    owner = await api.user("owner")
    team = await api.team(owner, timezone="Europe/Dublin")
    response = await client.post(f"/teams/{team['id']}/calendar-token", headers=owner.headers)
    assert response.status_code == 201
    feed = await _feed(client, team["id"], response.json()["token"])
    assert _events(feed) == {}
    assert str(Calendar.from_ical(feed.content)["X-WR-TIMEZONE"]) == "Europe/Dublin"


async def test_rotating_revokes_the_old_token(client: httpx.AsyncClient, squad: Squad) -> None:
    team_id = squad.team["id"]
    first = await _token(client, squad)
    assert (await _feed(client, team_id, first["token"])).status_code == 200
    second = await _token(client, squad)
    assert second["token"] != first["token"]
    old = await _feed(client, team_id, first["token"])
    assert old.status_code == 404
    assert old.headers["content-type"] == PROBLEM
    assert (await _feed(client, team_id, second["token"])).status_code == 200


async def test_wrong_missing_or_misplaced_tokens_are_the_same_404(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    team_id = squad.team["id"]
    token = (await _token(client, squad))["token"]
    other = await client.get("/teams", headers=squad.outsider.headers)
    other_id = other.json()[0]["id"]

    answers = [
        await _feed(client, team_id, token[:-1] + ("A" if token[-1] != "A" else "B")),
        await _feed(client, team_id, ""),
        await client.get(f"/teams/{team_id}/calendar.ics"),
        await _feed(client, other_id, token),  # a real token, for another team
        await _feed(client, 999999, token),  # no such team
    ]
    for answer in answers:
        assert answer.status_code == 404
        assert answer.headers["content-type"] == PROBLEM
    assert len({answer.text for answer in answers}) == 1
    # No bearer token is needed, and one does not stand in for the feed token.
    with_bearer = await client.get(f"/teams/{team_id}/calendar.ics", headers=squad.coach.headers)
    assert with_bearer.status_code == 404


async def test_a_team_without_a_token_has_no_feed(client: httpx.AsyncClient, squad: Squad) -> None:
    response = await client.get(f"/teams/{squad.team['id']}/calendar.ics", params={"token": "x"})
    assert response.status_code == 404


async def test_moving_a_session_keeps_its_uid(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    team_id = squad.team["id"]
    created = await api.session(squad.team, squad.coach, start=_start(24), title="Speed")
    token = (await _token(client, squad))["token"]
    uid = f"session-{created['id']}@loadline"
    before = _events(await _feed(client, team_id, token))[uid]
    assert before.decoded("DTSTART") == _start(24)

    moved = await client.patch(
        f"/performance/sessions/{created['id']}",
        json={
            "start": _start(48).isoformat(),
            "end": (_start(48) + timedelta(minutes=60)).isoformat(),
            "title": "Speed and agility",
            "location": "Gym",
        },
        headers=squad.coach.headers,
    )
    assert moved.status_code == 200, moved.text

    events = _events(await _feed(client, team_id, token))
    assert list(events) == [uid]
    after = events[uid]
    assert after.decoded("DTSTART") == _start(48)
    assert after.decoded("DTEND") == _start(48) + timedelta(minutes=60)
    assert str(after["SUMMARY"]) == "Speed and agility (TECHNICAL)"
    assert str(after["LOCATION"]) == "Gym"

    deleted = await client.delete(
        f"/performance/sessions/{created['id']}", headers=squad.coach.headers
    )
    assert deleted.status_code == 204
    assert _events(await _feed(client, team_id, token)) == {}
