"""Planned load: a session's planned_rpe and planned_load_au, the staff's rpe_summary, and
the weekly planned_au of load-summary."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from icalendar import Calendar

from tests.fixtures.actors import Actor, Api, Squad

MONDAY = date(2025, 3, 3)  # ISO week 2025-W10, long past in every zone
WEEK = "2025-W10"


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _path(session: dict[str, Any]) -> str:
    return f"/performance/sessions/{session['id']}"


async def test_planned_load_is_planned_rpe_times_minutes_halves_up(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    """6.5 x 90 min = 585 AU; 7.5 x 45 = 337.5 -> 338, rounded as an sRPE's load_au is."""
    full = await api.session(squad.team, squad.coach, minutes=90, planned_rpe=6.5)
    assert (full["planned_rpe"], full["planned_load_au"]) == (6.5, 585)
    short = await api.session(squad.team, squad.coach, minutes=45, planned_rpe=7.5)
    assert (short["planned_rpe"], short["planned_load_au"]) == (7.5, 338)
    # An sRPE of the same numbers gives the same load.
    srpe = await client.post(
        f"{_path(short)}/srpe",
        json={"membership_id": squad.player_membership["id"], "rpe_0_10": 7.5},
        headers=squad.player.headers,
    )
    assert srpe.json()["load_au"] == short["planned_load_au"] == 338
    # Read back, listed and fetched alike.
    fetched = await client.get(_path(full), headers=squad.player.headers)
    assert (fetched.json()["planned_rpe"], fetched.json()["planned_load_au"]) == (6.5, 585)
    listed = await client.get(
        "/performance/sessions", params={"team_id": squad.team["id"]}, headers=squad.coach.headers
    )
    assert {s["id"]: s["planned_load_au"] for s in listed.json()} == {
        full["id"]: 585,
        short["id"]: 338,
    }


async def test_no_plan_is_null_and_the_default(api: Api, squad: Squad) -> None:
    created = await api.session(squad.team, squad.coach)
    assert (created["planned_rpe"], created["planned_load_au"]) == (None, None)
    explicit = await api.session(squad.team, squad.coach, planned_rpe=None)
    assert explicit["planned_load_au"] is None
    zero = await api.session(squad.team, squad.coach, planned_rpe=0)
    assert (zero["planned_rpe"], zero["planned_load_au"]) == (0.0, 0)


async def test_patching_times_or_the_plan_changes_the_planned_load(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    start = _at(MONDAY)
    session = await api.session(squad.team, squad.coach, start=start, planned_rpe=6.5)
    assert session["planned_load_au"] == 585

    async def patch(body: dict[str, Any]) -> dict[str, Any]:
        response = await client.patch(_path(session), json=body, headers=squad.coach.headers)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    shorter = await patch({"end": (start + timedelta(minutes=45)).isoformat()})
    assert (shorter["duration_min"], shorter["planned_load_au"]) == (45, 293)  # 292.5 -> 293
    later = await patch({"start": (start + timedelta(minutes=15)).isoformat()})
    assert (later["duration_min"], later["planned_load_au"]) == (30, 195)
    replanned = await patch({"planned_rpe": 8.5})
    assert (replanned["planned_rpe"], replanned["planned_load_au"]) == (8.5, 255)
    untouched = await patch({"title": "Renamed"})
    assert untouched["planned_load_au"] == 255  # left out: the plan stays
    cleared = await patch({"planned_rpe": None})
    assert (cleared["planned_rpe"], cleared["planned_load_au"]) == (None, None)
    fetched = await client.get(_path(session), headers=squad.coach.headers)
    assert fetched.json()["planned_load_au"] is None


@pytest.mark.parametrize("bad", [10.1, -0.5, 6.55, 11, "7", True, "high"])
async def test_a_bad_planned_rpe_is_a_422_naming_it(
    client: httpx.AsyncClient, api: Api, squad: Squad, bad: object
) -> None:
    start = _at(MONDAY)
    body = {
        "team_id": squad.team["id"],
        "title": "Training",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=60)).isoformat(),
        "planned_rpe": bad,
    }
    created = await client.post("/performance/sessions", json=body, headers=squad.coach.headers)
    assert created.status_code == 422, created.text
    assert created.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in created.json()["errors"]] == [["body", "planned_rpe"]]
    listed = await client.get(
        "/performance/sessions", params={"team_id": squad.team["id"]}, headers=squad.coach.headers
    )
    assert listed.json() == []  # nothing created

    session = await api.session(squad.team, squad.coach, start=start, planned_rpe=5)
    patched = await client.patch(
        _path(session), json={"planned_rpe": bad}, headers=squad.coach.headers
    )
    assert patched.status_code == 422, patched.text
    assert [e["loc"] for e in patched.json()["errors"]] == [["body", "planned_rpe"]]
    fetched = await client.get(_path(session), headers=squad.coach.headers)
    assert (fetched.json()["planned_rpe"], fetched.json()["planned_load_au"]) == (5.0, 450)


async def _rate(
    client: httpx.AsyncClient, session: dict[str, Any], member: int, rpe: float, actor: Actor
) -> None:
    response = await client.post(
        f"{_path(session)}/srpe",
        json={"membership_id": member, "rpe_0_10": rpe},
        headers=actor.headers,
    )
    assert response.status_code == 201, response.text


async def test_staff_get_the_rpe_summary_against_the_plan(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    """Three sRPEs 5, 6, 7 against a plan of 5.5: mean 6, sample SD 1, mean_difference 0.5
    (the players found it half a point harder than planned)."""
    third = await api.join(squad.team, squad.coach, await api.user("third"))
    medic = await api.user("medic")
    await api.join(squad.team, squad.owner, medic, role="MEDICAL")
    session = await api.session(squad.team, squad.coach, start=_at(MONDAY), planned_rpe=5.5)
    members = [squad.player_membership["id"], squad.teammate_membership["id"], third["id"]]
    for member, rpe in zip(members, (5, 6, 7), strict=True):
        await _rate(client, session, member, rpe, squad.coach)
    expected = {"n": 3, "mean_rpe": 6.0, "sd_rpe": 1.0, "mean_difference": 0.5}
    for staff in (squad.coach, squad.owner, medic, squad.admin):
        fetched = await client.get(_path(session), headers=staff.headers)
        assert fetched.status_code == 200, fetched.text
        assert fetched.json()["rpe_summary"] == expected
    # Players never see their teammates' ratings summed up; the list has no summary at all.
    for player in (squad.player, squad.teammate):
        fetched = await client.get(_path(session), headers=player.headers)
        assert fetched.status_code == 200
        assert fetched.json()["rpe_summary"] is None
        assert fetched.json()["planned_load_au"] == 495
    listed = await client.get(
        "/performance/sessions", params={"team_id": squad.team["id"]}, headers=squad.coach.headers
    )
    assert "rpe_summary" not in listed.json()[0]
    # Outsiders get the session's 404, not a summary.
    outsider = await client.get(_path(session), headers=squad.outsider.headers)
    assert outsider.status_code == 404


async def test_rpe_summary_nulls_without_ratings_or_plan(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    planned = await api.session(squad.team, squad.coach, start=_at(MONDAY), planned_rpe=6)
    fetched = await client.get(_path(planned), headers=squad.coach.headers)
    assert fetched.json()["rpe_summary"] == {
        "n": 0,
        "mean_rpe": None,
        "sd_rpe": None,
        "mean_difference": None,
    }
    # One sRPE: a mean and a difference, no SD (it needs two).
    await _rate(client, planned, squad.player_membership["id"], 7.3, squad.player)
    fetched = await client.get(_path(planned), headers=squad.coach.headers)
    assert fetched.json()["rpe_summary"] == {
        "n": 1,
        "mean_rpe": 7.3,
        "sd_rpe": None,
        "mean_difference": pytest.approx(1.3, abs=1e-12),
    }
    # Without a plan there is nothing to compare with; the rest stays.
    unplanned = await api.session(squad.team, squad.coach, start=_at(MONDAY, 15))
    await _rate(client, unplanned, squad.player_membership["id"], 4, squad.player)
    await _rate(client, unplanned, squad.teammate_membership["id"], 6, squad.teammate)
    summary = (await client.get(_path(unplanned), headers=squad.coach.headers)).json()
    assert summary["rpe_summary"] == {
        "n": 2,
        "mean_rpe": 5.0,
        "sd_rpe": pytest.approx(1.4142135623730951),
        "mean_difference": None,
    }
    # Deleting an sRPE takes it out of the summary.
    deleted = await client.delete(
        f"{_path(unplanned)}/srpe/{squad.teammate_membership['id']}", headers=squad.coach.headers
    )
    assert deleted.status_code == 204
    summary = (await client.get(_path(unplanned), headers=squad.coach.headers)).json()
    assert summary["rpe_summary"]["n"] == 1 and summary["rpe_summary"]["mean_rpe"] == 4.0


async def _attendance(
    client: httpx.AsyncClient, squad: Squad, session: dict[str, Any], status: str
) -> None:
    response = await client.post(
        f"{_path(session)}/attendance",
        json=[{"membership_id": squad.player_membership["id"], "status": status}],
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text


async def _weeks(client: httpx.AsyncClient, squad: Squad, start: date, end: date) -> list[Any]:
    response = await client.get(
        f"/performance/members/{squad.player_membership['id']}/load-summary",
        params={"from": start.isoformat(), "to": end.isoformat()},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text
    weeks: list[Any] = response.json()
    return weeks


async def test_weekly_planned_au_counts_the_sessions_the_member_was_due_at(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    """Week 2025-W10: Monday 6.5 x 90 = 585 (attended, rated 7 -> 630), Wednesday 8 x 60
    = 480 (ABSENT), Thursday 5 x 60 = 300 (EXCUSED), Friday unplanned, Saturday 3 x 40 = 120
    (no attendance record: the plan was for the squad). planned_au = 585 + 120 = 705,
    beside the actual 630. The week after has only an unplanned session: null."""
    monday = await api.session(squad.team, squad.coach, start=_at(MONDAY), planned_rpe=6.5)
    await _attendance(client, squad, monday, "PRESENT")
    await _rate(client, monday, squad.player_membership["id"], 7, squad.player)
    wednesday = await api.session(
        squad.team, squad.coach, start=_at(MONDAY + timedelta(days=2)), minutes=60, planned_rpe=8
    )
    await _attendance(client, squad, wednesday, "ABSENT")
    thursday = await api.session(
        squad.team, squad.coach, start=_at(MONDAY + timedelta(days=3)), minutes=60, planned_rpe=5
    )
    await _attendance(client, squad, thursday, "EXCUSED")
    await api.session(squad.team, squad.coach, start=_at(MONDAY + timedelta(days=4)))
    await api.session(
        squad.team, squad.coach, start=_at(MONDAY + timedelta(days=5)), minutes=40, planned_rpe=3
    )
    await api.session(squad.team, squad.coach, start=_at(MONDAY + timedelta(days=8)))
    first, second = await _weeks(client, squad, MONDAY, MONDAY + timedelta(days=8))
    assert (first["week"], first["total_au"], first["planned_au"]) == (WEEK, 630, 705)
    assert (second["week"], second["total_au"], second["planned_au"]) == ("2025-W11", 0, None)
    # The teammate was marked for nothing: every planned session counts.
    teammate = await client.get(
        f"/performance/members/{squad.teammate_membership['id']}/load-summary",
        params={"from": MONDAY.isoformat(), "to": MONDAY.isoformat()},
        headers=squad.teammate.headers,
    )
    assert teammate.json()[0]["planned_au"] == 585 + 480 + 300 + 120
    # Marked present after all on Wednesday: its plan counts again.
    await _attendance(client, squad, wednesday, "LATE")
    [week] = await _weeks(client, squad, MONDAY + timedelta(days=6), MONDAY + timedelta(days=6))
    assert week["planned_au"] == 705 + 480


async def test_a_week_whose_only_plan_the_member_missed_has_no_planned_au(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    """Two planned sessions, one the member was ABSENT for: the other's plan only; with both
    missed, null (not 0: nothing was planned for them)."""
    first = await api.session(squad.team, squad.coach, start=_at(MONDAY), planned_rpe=6.5)
    second = await api.session(
        squad.team, squad.coach, start=_at(MONDAY + timedelta(days=1)), minutes=45, planned_rpe=7.5
    )
    await _attendance(client, squad, first, "ABSENT")
    [week] = await _weeks(client, squad, MONDAY, MONDAY)
    assert week["planned_au"] == 338
    await _attendance(client, squad, second, "ABSENT")
    [week] = await _weeks(client, squad, MONDAY, MONDAY)
    assert week["planned_au"] is None


async def test_the_calendar_feed_shows_the_plan(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    planned = await api.session(
        squad.team, squad.coach, start=soon, notes="Bring bibs", planned_rpe=6.5
    )
    bare = await api.session(squad.team, squad.coach, start=soon, minutes=45, planned_rpe=7.5)
    token = await client.post(
        f"/teams/{squad.team['id']}/calendar-token", headers=squad.coach.headers
    )
    assert token.status_code == 201, token.text
    feed = await client.get(
        f"/teams/{squad.team['id']}/calendar.ics", params={"token": token.json()["token"]}
    )
    assert feed.status_code == 200, feed.text
    events = {str(event["UID"]): event for event in Calendar.from_ical(feed.content).walk("VEVENT")}
    assert str(events[f"session-{planned['id']}@loadline"]["DESCRIPTION"]) == (
        "Bring bibs\nPlanned RPE 6.5 (585 AU)"
    )
    assert str(events[f"session-{bare['id']}@loadline"]["DESCRIPTION"]) == (
        "Planned RPE 7.5 (338 AU)"
    )
