"""The audit log is written: every access the contract lists appends exactly one entry, in
the request's transaction (a failed request appends none, a request whose entry cannot be
stored fails), and the table refuses to change or lose an entry.

The squad of ``tests.conftest``; the team's zone is UTC. Entries are read straight from the
table: what a data-protection officer would find there after each request.
"""

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import AuditEntry
from tests.fixtures.actors import Actor, Api, Squad
from tests.fixtures.databases import BACKEND

TODAY = datetime.now(UTC).date()
Maker = async_sessionmaker[AsyncSession]


def _day(back: int) -> str:
    return (TODAY - timedelta(days=back)).isoformat()


def _week() -> str:
    iso = TODAY.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


async def _last_id(maker: Maker) -> int:
    async with maker() as db:
        return int(await db.scalar(select(func.coalesce(func.max(AuditEntry.id), 0))) or 0)


async def _since(maker: Maker, last: int) -> list[AuditEntry]:
    async with maker() as db:
        query = select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id)
        return list(await db.scalars(query))


Call = Callable[[], Awaitable[httpx.Response]]


async def _appended(api: Api, call: Call, status: int) -> tuple[httpx.Response, list[AuditEntry]]:
    last = await _last_id(api.sessionmaker)
    response = await call()
    assert response.status_code == status, response.text
    return response, await _since(api.sessionmaker, last)


async def _one_entry(api: Api, call: Call, status: int = 200) -> tuple[httpx.Response, AuditEntry]:
    """The request's answer and the one entry it appended, whose request id is the
    answer's ``X-Request-ID``."""
    response, added = await _appended(api, call, status)
    assert len(added) == 1, [(e.action, e.resource) for e in added]
    entry = added[0]
    assert entry.request_id == response.headers["x-request-id"]
    assert entry.at.replace(tzinfo=entry.at.tzinfo or UTC) > datetime.now(UTC) - timedelta(
        minutes=1
    )
    return response, entry


async def _none(api: Api, call: Call, status: int) -> None:
    _, added = await _appended(api, call, status)
    assert added == [], [(e.action, e.resource) for e in added]


def _fields(entry: AuditEntry) -> tuple[Any, ...]:
    return (
        entry.actor_user_id,
        entry.action,
        entry.resource,
        entry.team_id,
        entry.membership_id,
        entry.resource_id,
    )


@pytest.fixture
async def medic(api: Api, squad: Squad) -> Actor:
    physio = await api.user("physio")
    await api.join(squad.team, squad.owner, physio, role="MEDICAL")
    return physio


def _problems(squad: Squad) -> str:
    return f"/performance/members/{squad.player_membership['id']}/health-problems"


async def _problem(api: Api, squad: Squad, actor: Actor) -> dict[str, Any]:
    body = {"kind": "INJURY", "onset_date": _day(3), "context": "TRAINING"}
    response = await api.client.post(_problems(squad), json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# --- health problems --------------------------------------------------------------------


async def test_every_read_and_write_of_health_problems_appends_one_entry(
    api: Api, squad: Squad, medic: Actor
) -> None:
    client, team, member = api.client, squad.team["id"], squad.player_membership["id"]
    coach = squad.coach
    body = {"kind": "INJURY", "onset_date": _day(3), "context": "TRAINING"}

    created, entry = await _one_entry(
        api, lambda: client.post(_problems(squad), json=body, headers=coach.headers), 201
    )
    problem = created.json()["id"]
    assert _fields(entry) == (coach.id, "create", "health_problem", team, member, problem)

    _, entry = await _one_entry(api, lambda: client.get(_problems(squad), headers=coach.headers))
    assert _fields(entry) == (coach.id, "read", "health_problem", team, member, None)

    one = f"/health-problems/{problem}"
    _, entry = await _one_entry(api, lambda: client.get(one, headers=medic.headers))
    assert _fields(entry) == (medic.id, "read", "health_problem", team, member, problem)

    change = {"summary": "Back in a week"}
    _, entry = await _one_entry(api, lambda: client.patch(one, json=change, headers=coach.headers))
    assert _fields(entry) == (coach.id, "update", "health_problem", team, member, problem)

    stage = {"from": _day(0), "availability": "MODIFIED"}
    _, entry = await _one_entry(
        api, lambda: client.post(f"{one}/stages", json=stage, headers=coach.headers)
    )
    assert _fields(entry) == (coach.id, "update", "health_problem", team, member, problem)

    _, entry = await _one_entry(api, lambda: client.delete(one, headers=squad.owner.headers), 204)
    assert _fields(entry) == (squad.owner.id, "delete", "health_problem", team, member, problem)


async def test_the_athletes_own_health_problem_reads_are_recorded_too(
    api: Api, squad: Squad
) -> None:
    """Health problems: every read, the athlete's own included (the contract exempts the
    athlete only for wellness and HRV)."""
    player, member = squad.player, squad.player_membership["id"]
    _, entry = await _one_entry(
        api, lambda: api.client.get(_problems(squad), headers=player.headers)
    )
    assert _fields(entry) == (player.id, "read", "health_problem", squad.team["id"], member, None)


# --- OSTRC --------------------------------------------------------------------------------


async def test_ostrc_answers_and_reads_append_one_entry_each(api: Api, squad: Squad) -> None:
    client, team, member = api.client, squad.team["id"], squad.player_membership["id"]
    url = f"/performance/members/{member}/ostrc"
    healthy = {"week": _week(), "q1": 0, "q2": 0, "q3": 0, "q4": 0}

    created, entry = await _one_entry(
        api, lambda: client.post(url, json=healthy, headers=squad.player.headers), 201
    )
    answer = created.json()["id"]
    assert _fields(entry) == (squad.player.id, "create", "ostrc", team, member, answer)

    _, entry = await _one_entry(
        api, lambda: client.post(url, json=healthy, headers=squad.coach.headers), 200
    )
    assert _fields(entry) == (squad.coach.id, "update", "ostrc", team, member, answer)

    _, entry = await _one_entry(api, lambda: client.get(url, headers=squad.coach.headers))
    assert _fields(entry) == (squad.coach.id, "read", "ostrc", team, member, None)


async def test_an_answer_that_opens_a_problem_is_one_entry_naming_the_answer(
    api: Api, squad: Squad
) -> None:
    """One insert per request: the answer's entry; the problem it opened is its
    ``problem_id``."""
    member = squad.player_membership["id"]
    body = {"week": _week(), "q1": 2, "q2": 2, "q3": 1, "q4": 1, "new_problem": {"kind": "INJURY"}}
    created, entry = await _one_entry(
        api,
        lambda: api.client.post(
            f"/performance/members/{member}/ostrc", json=body, headers=squad.player.headers
        ),
        201,
    )
    assert created.json()["problem_id"] is not None
    assert (entry.action, entry.resource, entry.resource_id) == (
        "create",
        "ostrc",
        created.json()["id"],
    )


# --- wellness and HRV: by someone other than the athlete ----------------------------------


async def test_staff_reads_of_wellness_and_hrv_are_recorded_the_athletes_own_are_not(
    api: Api, squad: Squad, medic: Actor
) -> None:
    client, team, member = api.client, squad.team["id"], squad.player_membership["id"]
    wellness = f"/performance/members/{member}/wellness"
    hrv = f"/performance/members/{member}/hrv"
    entry_body = {"membership_id": member, "sleep_quality": 4, "mood": 4, "soreness": 3}
    response = await client.post(
        "/performance/wellness", json=entry_body, headers=squad.player.headers
    )
    assert response.status_code == 201, response.text

    _, entry = await _one_entry(api, lambda: client.get(wellness, headers=squad.coach.headers))
    assert _fields(entry) == (squad.coach.id, "read", "wellness", team, member, None)
    _, entry = await _one_entry(api, lambda: client.get(hrv, headers=medic.headers))
    assert _fields(entry) == (medic.id, "read", "hrv", team, member, None)
    _, entry = await _one_entry(api, lambda: client.get(hrv, headers=squad.admin.headers))
    assert _fields(entry) == (squad.admin.id, "read", "hrv", team, member, None)

    await _none(api, lambda: client.get(wellness, headers=squad.player.headers), 200)
    await _none(api, lambda: client.get(hrv, headers=squad.player.headers), 200)


# --- team views -----------------------------------------------------------------------------

TEAM_VIEWS = [
    "/teams/{team}/roster",
    "/teams/{team}/dashboard",
    "/teams/{team}/alerts",
    "/teams/{team}/alerts?status=all",
    "/teams/{team}/reports/weekly.csv",
    "/teams/{team}/reports/weekly.pdf",
    "/teams/{team}/health-report",
]


@pytest.mark.parametrize("path", TEAM_VIEWS)
async def test_a_team_view_appends_one_team_view_entry(
    api: Api, squad: Squad, medic: Actor, path: str
) -> None:
    team = squad.team["id"]
    url = path.format(team=team)
    for actor in (squad.coach, medic):
        _, entry = await _one_entry(
            api, functools.partial(api.client.get, url, headers=actor.headers)
        )
        assert _fields(entry) == (actor.id, "read", "team_view", team, None, None)


async def test_acknowledging_an_alert_records_the_health_data_its_evidence_shows(
    api: Api, squad: Squad
) -> None:
    """The player's own report raises HEALTH_PROBLEM_REPORTED; the coach acknowledging it
    is answered its evidence, a read of that member's problem."""
    problem = await _problem(api, squad, squad.player)
    listed = await api.client.get(f"/teams/{squad.team['id']}/alerts", headers=squad.coach.headers)
    (alert,) = [a for a in listed.json() if a["kind"] == "HEALTH_PROBLEM_REPORTED"]
    _, entry = await _one_entry(
        api,
        lambda: api.client.post(f"/alerts/{alert['id']}/ack", headers=squad.coach.headers),
    )
    assert _fields(entry) == (
        squad.coach.id,
        "read",
        "health_problem",
        squad.team["id"],
        squad.player_membership["id"],
        problem["id"],
    )


# --- failed requests append nothing ---------------------------------------------------------


async def test_a_refused_or_invalid_request_appends_no_entry(api: Api, squad: Squad) -> None:
    client, team, member = api.client, squad.team["id"], squad.player_membership["id"]
    problem = await _problem(api, squad, squad.coach)
    mate, outsider = squad.teammate.headers, squad.outsider.headers
    await _none(api, lambda: client.get(_problems(squad), headers=mate), 403)
    await _none(api, lambda: client.get(f"/health-problems/{problem['id']}", headers=outsider), 404)
    await _none(
        api,
        lambda: client.patch(
            f"/health-problems/{problem['id']}",
            json={"onset_date": _day(-3)},
            headers=squad.coach.headers,
        ),
        422,
    )
    await _none(
        api,
        lambda: client.delete(f"/health-problems/{problem['id']}", headers=squad.coach.headers),
        403,
    )
    await _none(
        api,
        lambda: client.get(
            f"/performance/members/{member}/wellness?from={_day(0)}&to={_day(3)}",
            headers=squad.coach.headers,
        ),
        422,
    )
    await _none(api, lambda: client.get(f"/teams/{team}/roster", headers=mate), 403)
    await _none(api, lambda: client.get(f"/teams/{team}/roster", headers=outsider), 404)
    # refused by the service after the view's access was checked (and its entry written)
    await _none(
        api,
        lambda: client.get(f"/teams/{team}/dashboard?date={_day(-2)}", headers=squad.coach.headers),
        422,
    )
    # refused by request validation, also after the access dependency ran
    await _none(
        api,
        lambda: client.get(f"/teams/{team}/dashboard?date=soon", headers=squad.coach.headers),
        422,
    )
    await _none(
        api,
        lambda: client.get(
            f"/teams/{team}/reports/weekly.csv?week=2026-W99", headers=squad.coach.headers
        ),
        422,
    )


# --- append-only, and no request goes unrecorded --------------------------------------------


async def _an_entry(api: Api, squad: Squad) -> AuditEntry:
    _, entry = await _one_entry(
        api,
        lambda: api.client.get(f"/teams/{squad.team['id']}/roster", headers=squad.coach.headers),
    )
    return entry


STATEMENTS = [
    "UPDATE audit_entries SET actor_user_id = 0 WHERE id = :id",
    "UPDATE audit_entries SET request_id = 'forged' WHERE id = :id",
    "DELETE FROM audit_entries WHERE id = :id",
    "DELETE FROM audit_entries",
]


@pytest.mark.parametrize("statement", STATEMENTS)
async def test_the_table_refuses_to_change_or_delete_an_entry(
    api: Api, squad: Squad, statement: str
) -> None:
    entry = await _an_entry(api, squad)
    with pytest.raises(DBAPIError, match="append-only"):
        async with api.sessionmaker.begin() as db:
            await db.execute(text(statement), {"id": entry.id})
    async with api.sessionmaker() as db:
        kept = await db.get_one(AuditEntry, entry.id)
        assert (kept.actor_user_id, kept.request_id) == (entry.actor_user_id, entry.request_id)


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite has no TRUNCATE")
async def test_postgresql_refuses_to_truncate_the_log(api: Api, squad: Squad) -> None:
    entry = await _an_entry(api, squad)
    with pytest.raises(DBAPIError, match="append-only"):
        async with api.sessionmaker.begin() as db:
            await db.execute(text("TRUNCATE audit_entries"))
    async with api.sessionmaker() as db:
        assert await db.get(AuditEntry, entry.id) is not None


FAILING_INSERT = {
    "postgresql": [
        "CREATE FUNCTION audit_entries_full() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'the audit log cannot be written'; END $$",
        "CREATE TRIGGER audit_entries_full BEFORE INSERT ON audit_entries "
        "FOR EACH ROW EXECUTE FUNCTION audit_entries_full()",
    ],
    "sqlite": [
        "CREATE TRIGGER audit_entries_full BEFORE INSERT ON audit_entries "
        "BEGIN SELECT RAISE(ABORT, 'the audit log cannot be written'); END",
    ],
}


async def test_a_request_whose_entry_cannot_be_stored_fails_without_the_data(
    api: Api, squad: Squad
) -> None:
    """The log refuses every insert (a trigger made for this test, gone with its rolled-back
    transaction): a health read then fails instead of answering unrecorded. On PostgreSQL
    a 500 (the server failed, not the input); SQLite reports a trigger's refusal as a
    constraint, a 409. Either way no health data leaves, and nothing changed."""
    summary = "Hamstring, back in three weeks"
    body = {"kind": "INJURY", "onset_date": _day(3), "context": "TRAINING", "summary": summary}
    response = await api.client.post(_problems(squad), json=body, headers=squad.coach.headers)
    assert response.status_code == 201, response.text
    async with api.sessionmaker.begin() as db:
        for statement in FAILING_INSERT[BACKEND]:
            await db.execute(text(statement))

    expected = 500 if BACKEND == "postgresql" else 409
    for path in (_problems(squad), f"/teams/{squad.team['id']}/roster"):
        failed = await api.client.get(path, headers=squad.coach.headers)
        assert failed.status_code == expected, failed.text
        assert failed.headers["content-type"].startswith("application/problem+json")
        assert summary not in failed.text and "Hamstring" not in failed.text
    created = await api.client.post(
        _problems(squad), json=body | {"summary": "Second"}, headers=squad.coach.headers
    )
    assert created.status_code == expected, created.text
    async with api.sessionmaker() as db:
        count = await db.scalar(
            text("SELECT count(*) FROM health_problems WHERE summary = 'Second'")
        )
    assert count == 0
