"""Health problems through HTTP: recording, reading, changing, stages, deleting; who sees
the clinical fields; availability today and days lost; the alert on a self-report.

The squad of ``tests.conftest`` plus a physiotherapist (``medic``), a MEDICAL member of
the team. The team's zone is UTC, so "today" is today's UTC date.
"""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import OutboundDelivery
from tests.fixtures.actors import Actor, Api, Squad, started_at

TODAY = datetime.now(UTC).date()
CLINICAL = ("diagnosis", "osiics_code", "clinical_notes")
# Values no other field holds: wherever one of them shows up, a clinical field leaked.
SECRET: dict[str, Any] = {
    "diagnosis": "Grade 2 biceps femoris strain (MRI-7Q3)",
    "osiics_code": "TMBX",
    "clinical_notes": "Painful resisted knee flexion; see MRI-7Q3 report",
}


def day(back: int) -> str:
    return (TODAY - timedelta(days=back)).isoformat()


@pytest.fixture
async def medic(api: Api, squad: Squad) -> Actor:
    physio = await api.user("physio")
    await api.join(squad.team, squad.owner, physio, role="MEDICAL")
    return physio


def _problems_url(squad: Squad) -> str:
    return f"/performance/members/{squad.player_membership['id']}/health-problems"


async def _create(
    client: httpx.AsyncClient, squad: Squad, actor: Actor, status: int = 201, **fields: Any
) -> dict[str, Any]:
    body = {"kind": "INJURY", "onset_date": day(3), "context": "TRAINING"} | fields
    response = await client.post(_problems_url(squad), json=body, headers=actor.headers)
    assert response.status_code == status, response.text
    found: dict[str, Any] = response.json()
    return found


def _loc(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [error["loc"] for error in response.json()["errors"]]


def _no_clinical_text(text: str) -> None:
    for value in SECRET.values():
        assert value not in text, text


# --- recording and the answer ----------------------------------------------------------------


async def test_medical_staff_record_a_problem_with_its_clinical_fields(
    client: httpx.AsyncClient, squad: Squad, medic: Actor
) -> None:
    created = await _create(
        client,
        squad,
        medic,
        body_area="THIGH",
        side="LEFT",
        mechanism="ACUTE",
        summary="Hamstring, out for about three weeks",
        expected_return=day(-18),
        **SECRET,
    )
    assert created | {"id": 0, "created_at": "", "updated_at": ""} == {
        "id": 0,
        "membership_id": squad.player_membership["id"],
        "kind": "INJURY",
        "onset_date": day(3),
        "context": "TRAINING",
        "session_id": None,
        "body_area": "THIGH",
        "side": "LEFT",
        "mechanism": "ACUTE",
        "summary": "Hamstring, out for about three weeks",
        "expected_return": day(-18),
        "resolved_on": None,
        "stages": [{"from": day(3), "availability": "UNAVAILABLE"}],
        "availability_today": "UNAVAILABLE",
        "days_lost": 4,  # onset 3 days ago up to today: 4 days unavailable
        "reported_by": medic.id,
        "created_at": "",
        "updated_at": "",
        **SECRET,
    }
    got = await client.get(f"/health-problems/{created['id']}", headers=medic.headers)
    assert got.status_code == 200
    assert got.json() == created


async def test_availability_today_and_days_lost_follow_the_stages(
    client: httpx.AsyncClient, squad: Squad, medic: Actor
) -> None:
    """Worked example: onset 9 days ago, UNAVAILABLE from then (days -9..-6: 4 days),
    MODIFIED from 5 days ago (-5..-3: 3 days), FULL from 2 days ago (-2..0: 3 days).

    days_lost = 4 + 3 = 7 (UNAVAILABLE and MODIFIED days count, FULL ones do not) and
    availability_today = FULL. Resolved yesterday (-1): the days up to -2 still count,
    days_lost stays 7, and the problem no longer applies today (availability_today null).
    Reopened (resolved_on null) with a MODIFIED stage from today: 7 + 1 = 8, MODIFIED.
    """
    created = await _create(client, squad, medic, onset_date=day(9))
    url = f"/health-problems/{created['id']}"
    for back, availability in ((5, "MODIFIED"), (2, "FULL")):
        staged = await client.post(
            f"{url}/stages",
            json={"from": day(back), "availability": availability},
            headers=squad.coach.headers,
        )
        assert staged.status_code == 200, staged.text
    problem = staged.json()
    assert problem["stages"] == [
        {"from": day(9), "availability": "UNAVAILABLE"},
        {"from": day(5), "availability": "MODIFIED"},
        {"from": day(2), "availability": "FULL"},
    ]
    assert (problem["days_lost"], problem["availability_today"]) == (7, "FULL")

    resolved = await client.patch(url, json={"resolved_on": day(1)}, headers=medic.headers)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolved_on"] == day(1)
    assert (resolved.json()["days_lost"], resolved.json()["availability_today"]) == (7, None)

    reopened = await client.patch(url, json={"resolved_on": None}, headers=medic.headers)
    assert reopened.status_code == 200, reopened.text
    staged = await client.post(
        f"{url}/stages", json={"from": day(0), "availability": "MODIFIED"}, headers=medic.headers
    )
    assert (staged.json()["days_lost"], staged.json()["availability_today"]) == (8, "MODIFIED")


async def test_the_initial_availability_is_the_first_stage(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    """A cold the athlete trains through: MODIFIED from onset (2 days ago), so 3 days lost."""
    created = await _create(
        client,
        squad,
        squad.player,
        kind="ILLNESS",
        context="OTHER",
        availability="MODIFIED",
        onset_date=day(2),
    )
    assert created["stages"] == [{"from": day(2), "availability": "MODIFIED"}]
    assert (created["days_lost"], created["availability_today"]) == (3, "MODIFIED")
    assert created["reported_by"] == squad.player.id


# --- the clinical fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reader", "sees"),
    [("medic", True), ("player", True), ("coach", False), ("owner", False), ("admin", False)],
)
async def test_clinical_fields_reach_medical_staff_and_the_athlete_only(
    client: httpx.AsyncClient, squad: Squad, medic: Actor, reader: str, sees: bool
) -> None:
    created = await _create(client, squad, medic, summary="Hamstring", **SECRET)
    actor = medic if reader == "medic" else getattr(squad, reader)
    answers = [
        await client.get(f"/health-problems/{created['id']}", headers=actor.headers),
        await client.get(_problems_url(squad), params={"status": "all"}, headers=actor.headers),
        await client.post(
            f"/health-problems/{created['id']}/stages",
            json={"from": day(1), "availability": "MODIFIED"},
            headers=actor.headers,
        ),
        await client.patch(
            f"/health-problems/{created['id']}", json={"summary": "Better"}, headers=actor.headers
        ),
    ]
    if reader == "player":  # athletes do not record stages
        assert answers[2].status_code == 403
        answers.pop(2)
    for response in answers:
        assert response.status_code == 200, response.text
        body = response.json()
        problem = body[0] if isinstance(body, list) else body
        assert problem["id"] == created["id"]
        if sees:
            assert {name: problem[name] for name in CLINICAL} == SECRET
        else:
            assert not set(CLINICAL) & problem.keys(), problem  # absent, not null
            _no_clinical_text(response.text)


async def test_a_teammate_and_another_team_never_see_the_problem(
    client: httpx.AsyncClient, squad: Squad, medic: Actor
) -> None:
    created = await _create(client, squad, medic, **SECRET)
    url = f"/health-problems/{created['id']}"
    requests = [
        ("GET", url, None),
        ("PATCH", url, {"summary": "x"}),
        ("POST", f"{url}/stages", {"from": day(1), "availability": "FULL"}),
        ("DELETE", url, None),
        ("GET", _problems_url(squad), None),
    ]
    for method, path, body in requests:
        mate = await client.request(method, path, json=body, headers=squad.teammate.headers)
        other = await client.request(method, path, json=body, headers=squad.outsider.headers)
        assert (mate.status_code, other.status_code) == (403, 404), (method, path)
        for response in (mate, other):
            assert response.headers["content-type"].startswith("application/problem+json")
            _no_clinical_text(response.text)
    unknown = await client.get("/health-problems/2147483647", headers=squad.outsider.headers)
    assert unknown.status_code == 404
    assert (
        unknown.json()["detail"]
        == (await client.get(url, headers=squad.outsider.headers)).json()["detail"]
    )


@pytest.mark.parametrize("writer", ["player", "coach", "owner", "admin"])
async def test_clinical_fields_from_a_non_medical_caller_are_403_and_not_stored(
    client: httpx.AsyncClient, squad: Squad, medic: Actor, writer: str
) -> None:
    actor = getattr(squad, writer)
    for name, value in SECRET.items():
        response = await client.post(
            _problems_url(squad),
            json={"kind": "INJURY", "onset_date": day(1), "context": "MATCH", name: value},
            headers=actor.headers,
        )
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        _no_clinical_text(response.text)
    listed = await client.get(_problems_url(squad), headers=medic.headers)
    assert listed.json() == []

    created = await _create(client, squad, medic, **SECRET)
    for name in CLINICAL:
        for value in ("changed", None):  # null would erase it: refused as well
            response = await client.patch(
                f"/health-problems/{created['id']}", json={name: value}, headers=actor.headers
            )
            assert response.status_code == 403, response.text
    got = await client.get(f"/health-problems/{created['id']}", headers=medic.headers)
    assert {name: got.json()[name] for name in CLINICAL} == SECRET


async def test_medical_staff_change_and_clear_the_clinical_fields(
    client: httpx.AsyncClient, squad: Squad, medic: Actor
) -> None:
    created = await _create(client, squad, squad.player, summary="Sore knee")
    assert {name: created[name] for name in CLINICAL} == dict.fromkeys(
        CLINICAL
    )  # the athlete's own
    url = f"/health-problems/{created['id']}"
    changed = await client.patch(url, json=SECRET, headers=medic.headers)
    assert changed.status_code == 200, changed.text
    assert {name: changed.json()[name] for name in CLINICAL} == SECRET
    cleared = await client.patch(url, json={"clinical_notes": None}, headers=medic.headers)
    assert cleared.json()["clinical_notes"] is None
    assert cleared.json()["diagnosis"] == SECRET["diagnosis"]


async def test_clinical_values_stay_out_of_logs_alerts_and_outbound_payloads(
    client: httpx.AsyncClient,
    squad: Squad,
    medic: Actor,
    sessionmaker: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every record of the service's own loggers (and INFO of the libraries': a database
    driver's DEBUG lines echo statement parameters by design, and are never on in
    production) is free of clinical values, and so are alerts and outbound payloads."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="loadline")
    hook = await client.post(
        f"/teams/{squad.team['id']}/outbound-webhooks",
        json={"url": "https://93.184.215.14/hooks", "events": ["alert.created"]},
        headers=squad.owner.headers,
    )
    assert hook.status_code == 201, hook.text
    reported = await _create(client, squad, squad.player, body_area="KNEE")
    url = f"/health-problems/{reported['id']}"
    assert (await client.patch(url, json=SECRET, headers=medic.headers)).status_code == 200
    refused = await client.patch(url, json=SECRET, headers=squad.coach.headers)
    assert refused.status_code == 403
    await _create(client, squad, medic, onset_date=day(5), **SECRET)

    _no_clinical_text(caplog.text)
    alerts = await client.get(f"/teams/{squad.team['id']}/alerts", headers=squad.coach.headers)
    assert [a["kind"] for a in alerts.json()] == ["HEALTH_PROBLEM_REPORTED"]
    _no_clinical_text(alerts.text)
    async with sessionmaker() as db:
        payloads = [d.payload for d in await db.scalars(select(OutboundDelivery))]
    assert [payload["kind"] for payload in payloads] == ["HEALTH_PROBLEM_REPORTED"]
    _no_clinical_text(repr(payloads))


# --- the alert on a self-report --------------------------------------------------------------


async def test_an_athlete_reporting_a_problem_raises_an_amber_alert_for_staff(
    client: httpx.AsyncClient, squad: Squad, medic: Actor
) -> None:
    await _create(client, squad, squad.coach, onset_date=day(4))  # staff record: no alert
    reported = await _create(
        client, squad, squad.player, body_area="KNEE", side="RIGHT", summary="Knee hurts"
    )
    for reader in (squad.coach, medic):
        response = await client.get(f"/teams/{squad.team['id']}/alerts", headers=reader.headers)
        assert response.status_code == 200
        alerts = response.json()
        assert len(alerts) == 1
        alert = alerts[0]
        assert (alert["kind"], alert["severity"], alert["date"]) == (
            "HEALTH_PROBLEM_REPORTED",
            "amber",
            TODAY.isoformat(),
        )
        assert alert["membership_id"] == squad.player_membership["id"]
        assert (
            alert["message"] == f"Injury reported by the athlete (knee), onset {day(3)}: to triage"
        )
        assert alert["evidence"] == {
            "rule": "health_problem_reported",
            "params": {"reported_by": "athlete"},
            "inputs": {
                "problem_id": reported["id"],
                "kind": "INJURY",
                "onset_date": day(3),
                "context": "TRAINING",
                "body_area": "KNEE",
                "side": "RIGHT",
                "availability": "UNAVAILABLE",
            },
        }
    acked = await client.post(f"/alerts/{alert['id']}/ack", headers=medic.headers)
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"] == medic.id


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "BRUISE"),
        ("context", "GYM"),
        ("body_area", "TAIL"),
        ("side", "MIDDLE"),
        ("mechanism", "SUDDEN"),
        ("availability", "AVAILABLE"),
    ],
)
async def test_an_unknown_enum_value_is_422_naming_the_field(
    client: httpx.AsyncClient, squad: Squad, field: str, value: str
) -> None:
    body = {"kind": "INJURY", "onset_date": day(1), "context": "MATCH", field: value}
    response = await client.post(_problems_url(squad), json=body, headers=squad.coach.headers)
    assert _loc(response) == [["body", field]]


async def test_the_dates_and_the_session_are_checked(
    api: Api, client: httpx.AsyncClient, squad: Squad
) -> None:
    coach = squad.coach

    async def post(**fields: Any) -> httpx.Response:
        body = {"kind": "INJURY", "onset_date": day(2), "context": "TRAINING"} | fields
        return await client.post(_problems_url(squad), json=body, headers=coach.headers)

    assert _loc(await post(onset_date=day(-1))) == [["body", "onset_date"]]
    assert _loc(await post(expected_return=day(3))) == [["body", "expected_return"]]
    on_onset = await api.session(squad.team, coach, start=started_at(TODAY - timedelta(days=2)))
    other_day = await api.session(squad.team, coach, start=started_at(TODAY - timedelta(days=4)))
    outsiders = await client.get("/teams", headers=squad.outsider.headers)
    foreign = await api.session(
        outsiders.json()[0], squad.outsider, start=started_at(TODAY - timedelta(days=2))
    )
    for session in (other_day, foreign):
        assert _loc(await post(session_id=session["id"])) == [["body", "session_id"]]
    assert _loc(await post(session_id=2147483647)) == [["body", "session_id"]]
    linked = await post(session_id=on_onset["id"], context="MATCH", expected_return=day(2))
    assert linked.status_code == 201, linked.text
    assert linked.json()["session_id"] == on_onset["id"]
    listed = await client.get(_problems_url(squad), headers=coach.headers)
    assert [p["id"] for p in listed.json()] == [linked.json()["id"]]


async def test_a_problem_is_for_a_player_membership_only(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    response = await client.post(
        f"/performance/members/{squad.coach_membership['id']}/health-problems",
        json={"kind": "ILLNESS", "onset_date": day(1), "context": "OTHER"},
        headers=squad.owner.headers,
    )
    assert _loc(response) == [["path", "membership_id"]]


async def test_patch_rules(client: httpx.AsyncClient, squad: Squad, medic: Actor) -> None:
    created = await _create(client, squad, medic, onset_date=day(6))
    url = f"/health-problems/{created['id']}"
    staged = await client.post(
        f"{url}/stages", json={"from": day(3), "availability": "MODIFIED"}, headers=medic.headers
    )
    assert staged.status_code == 200

    async def patch(**fields: Any) -> httpx.Response:
        return await client.patch(url, json=fields, headers=squad.coach.headers)

    assert _loc(await patch(kind="ILLNESS")) == [["body", "kind"]]
    assert _loc(await patch(resolved_on=day(7))) == [["body", "resolved_on"]]  # before onset
    assert _loc(await patch(resolved_on=day(4))) == [["body", "resolved_on"]]  # before a stage
    assert _loc(await patch(resolved_on=day(-1))) == [["body", "resolved_on"]]  # future
    assert _loc(await patch(onset_date=day(-1))) == [["body", "onset_date"]]
    assert _loc(await patch(onset_date=day(3))) == [["body", "onset_date"]]  # at the next stage
    assert _loc(await patch(expected_return=day(7))) == [["body", "expected_return"]]
    assert _loc(await patch(onset_date=day(1), resolved_on=None)) == [["body", "onset_date"]]
    assert _loc(await patch(context=None)) == [["body", "context"]]

    moved = await patch(onset_date=day(8), availability="MODIFIED", summary="Older than thought")
    assert moved.status_code == 200, moved.text
    assert moved.json()["stages"] == [
        {"from": day(8), "availability": "MODIFIED"},
        {"from": day(3), "availability": "MODIFIED"},
    ]
    assert moved.json()["days_lost"] == 9  # day -8 up to today, all MODIFIED
    resolved = await patch(resolved_on=day(3), body_area=None, summary=None)
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["resolved_on"], resolved.json()["summary"]) == (day(3), None)
    assert resolved.json()["days_lost"] == 5  # days -8 to -4
    open_list = await client.get(_problems_url(squad), headers=squad.coach.headers)
    assert open_list.json() == []
    all_list = await client.get(
        _problems_url(squad), params={"status": "all"}, headers=squad.coach.headers
    )
    assert [p["id"] for p in all_list.json()] == [created["id"]]


async def test_stage_rules(client: httpx.AsyncClient, squad: Squad, medic: Actor) -> None:
    created = await _create(client, squad, squad.player, onset_date=day(5))
    url = f"/health-problems/{created['id']}/stages"

    async def stage(actor: Actor, back: int, availability: str = "MODIFIED") -> httpx.Response:
        body = {"from": day(back), "availability": availability}
        return await client.post(url, json=body, headers=actor.headers)

    assert (await stage(squad.player, 2)).status_code == 403
    assert _loc(await stage(medic, 6)) == [["body", "from"]]  # before onset
    assert _loc(await stage(medic, -1)) == [["body", "from"]]  # in the future
    assert _loc(await stage(medic, 2, "HALF")) == [["body", "availability"]]
    assert (await stage(squad.coach, 2)).status_code == 200
    replaced = await stage(squad.owner, 2, "FULL")
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["stages"] == [
        {"from": day(5), "availability": "UNAVAILABLE"},
        {"from": day(2), "availability": "FULL"},
    ]
    first = await stage(medic, 5, "MODIFIED")  # the onset day's stage is replaced too
    assert first.json()["stages"][0] == {"from": day(5), "availability": "MODIFIED"}
    resolved = await client.patch(
        f"/health-problems/{created['id']}", json={"resolved_on": day(1)}, headers=medic.headers
    )
    assert resolved.status_code == 200, resolved.text
    assert _loc(await stage(medic, 0)) == [["body", "from"]]  # after resolution
    assert (await stage(medic, 1)).status_code == 200  # on the resolution day: allowed


async def test_medical_staff_and_owners_delete_a_problem(
    client: httpx.AsyncClient, squad: Squad, medic: Actor
) -> None:
    for deleter in (medic, squad.owner, squad.admin):
        created = await _create(client, squad, squad.player)
        url = f"/health-problems/{created['id']}"
        for refused in (squad.player, squad.coach):
            assert (await client.delete(url, headers=refused.headers)).status_code == 403
        assert (await client.delete(url, headers=deleter.headers)).status_code == 204
        assert (await client.get(url, headers=medic.headers)).status_code == 404
        assert (await client.delete(url, headers=deleter.headers)).status_code == 404
    assert (await client.get(_problems_url(squad), headers=medic.headers)).json() == []


async def test_the_list_is_paginated_newest_onset_first(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    ids = [(await _create(client, squad, squad.coach, onset_date=day(b)))["id"] for b in (9, 2, 5)]
    url = _problems_url(squad)
    pages = [
        await client.get(url, params={"limit": 2, "offset": offset}, headers=squad.player.headers)
        for offset in (0, 2)
    ]
    assert [[p["id"] for p in page.json()] for page in pages] == [[ids[1], ids[2]], [ids[0]]]
    too_many = await client.get(url, params={"limit": 1001}, headers=squad.player.headers)
    assert _loc(too_many) == [["query", "limit"]]
    bad_status = await client.get(url, params={"status": "closed"}, headers=squad.player.headers)
    assert _loc(bad_status) == [["query", "status"]]


async def test_an_inactive_membership_takes_no_new_problem(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    retired = await client.patch(
        f"/teams/{squad.team['id']}/members/{squad.player_membership['id']}",
        json={"active": False},
        headers=squad.owner.headers,
    )
    assert retired.status_code == 200
    await _create(client, squad, squad.coach, status=409)
