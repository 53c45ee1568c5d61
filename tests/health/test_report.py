"""GET /teams/{team_id}/health-report: exposure, incidence, days lost and burden on a
hand-worked squad, the weekly OSTRC-H2 prevalence, the defaults and bad ranges, and a cost
in statements that does not grow with the team."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import (
    Attendance,
    AttendanceStatus,
    Availability,
    HealthProblem,
    HealthStage,
    OstrcAnswer,
    ProblemContext,
    ProblemKind,
    Role,
    SessionType,
    TeamMembership,
    TrainingSession,
    User,
)
from tests.fixtures.actors import Actor, Api, Squad
from tests.fixtures.databases import count_statements

U, M, F = Availability.UNAVAILABLE, Availability.MODIFIED, Availability.FULL
TODAY = datetime.now(UTC).date()
# The two ISO weeks before the current one: day n of the example is FROM + n.
FROM = TODAY - timedelta(days=TODAY.weekday() + 14)
TO = FROM + timedelta(days=13)


def day(n: int) -> date:
    return FROM + timedelta(days=n)


def label(monday: date) -> str:
    iso = monday.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def report_path(team: dict[str, Any]) -> str:
    return f"/teams/{team['id']}/health-report"


async def report(
    client: httpx.AsyncClient, team: dict[str, Any], actor: Actor, **params: Any
) -> dict[str, Any]:
    response = await client.get(report_path(team), params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def session(
    api: Api, squad: Squad, n: int, minutes: int, attendance: list[tuple[int, str, int]], **kw: Any
) -> None:
    """A session on day ``n`` at 10:00 UTC with its attendance (membership, status, minutes)."""
    created = await api.session(
        squad.team,
        squad.coach,
        start=datetime.combine(day(n), time(10), UTC),
        minutes=minutes,
        **kw,
    )
    response = await api.client.post(
        f"/performance/sessions/{created['id']}/attendance",
        json=[
            {"membership_id": m, "status": status, "minutes_participated": played}
            for m, status, played in attendance
        ],
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text


async def problem(
    api: Api,
    membership: dict[str, Any],
    kind: ProblemKind,
    context: ProblemContext,
    stages: list[tuple[int, Availability]],
    resolved: int | None = None,
) -> int:
    """A problem with onset on its first stage's day (recorded by staff: no API here yet)."""
    async with api.sessionmaker.begin() as db:
        found = HealthProblem(
            team_id=membership["team_id"],
            membership_id=membership["id"],
            kind=kind,
            onset_date=day(stages[0][0]),
            context=context,
            resolved_on=None if resolved is None else day(resolved),
        )
        db.add(found)
        await db.flush()
        for n, availability in stages:
            db.add(
                HealthStage(
                    team_id=found.team_id,
                    problem_id=found.id,
                    from_date=day(n),
                    availability=availability,
                )
            )
        return found.id


async def ostrc(
    api: Api, actor: Actor, membership: dict[str, Any], monday: date, q: tuple[int, ...], **kw: Any
) -> None:
    q1, q2, q3, q4 = q
    response = await api.client.post(
        f"/performance/members/{membership['id']}/ostrc",
        json={"week": label(monday), "q1": q1, "q2": q2, "q3": q3, "q4": q4, **kw},
        headers=actor.headers,
    )
    assert response.status_code == 201, response.text


async def test_the_hand_worked_squad(api: Api, squad: Squad) -> None:
    """Players A (the squad's player), B (the teammate) and C; the range is the two ISO
    weeks before the current one, days 0 (a Monday) to 13.

    Exposure, per player: the minutes played when above 0, else the session's length.
    - training day 1, 90 min: A, B, C present with 0 minutes: 3 x 90 = 270 min;
    - training day 3, 90 min: A present (0: 90), B late with 60, C absent, the coach's
      own membership present (no athlete): 90 + 60 = 150 min;
    - match day 5, 80 min: A present (0: 80), B and C present with 80: 240 min;
    - a training the day before the range, attended by A: outside.
    Training 270 + 150 = 420 min = 7 h, match 240 min = 4 h, total 11 h.

    Problems with onset in the range: B's injury in the match (day 5, MATCH) and C's
    illness (day 6, OTHER); A's training injury of day -4 started before it. So injuries 1,
    illnesses 1; incidence training 1000 x 0 / 7 = 0, match 1000 x 1 / 4 = 250, total
    1000 x 2 / 11 = 181.82 (OTHER counts in the total only).

    Days lost inside the range: B's injury, unavailable from day 5, modified from 8, full
    from 10: days 5-9 = 5; C's illness, unavailable from day 6, resolved on day 9: days
    6-8 = 3; A's injury, unavailable from day -4, resolved on day 2: days 0-1 = 2 (the
    four days before the range do not count). 5 + 3 + 2 = 10 days; burden 1000 x 10 / 11
    = 909.09 per 1000 h. Another team's problem counts nowhere.
    """
    a, b = squad.player_membership, squad.teammate_membership
    c = await api.join(squad.team, squad.coach, await api.user("c"))
    coach = squad.coach_membership["id"]
    present, late, absent = "PRESENT", "LATE", "ABSENT"
    await session(
        api, squad, 1, 90, [(a["id"], present, 0), (b["id"], present, 0), (c["id"], present, 0)]
    )
    await session(
        api,
        squad,
        3,
        90,
        [(a["id"], present, 0), (b["id"], late, 60), (c["id"], absent, 0), (coach, present, 90)],
    )
    await session(
        api,
        squad,
        5,
        80,
        [(a["id"], present, 0), (b["id"], present, 80), (c["id"], present, 80)],
        session_type="MATCH",
    )
    await session(api, squad, -1, 90, [(a["id"], present, 0)])
    await problem(api, b, ProblemKind.INJURY, ProblemContext.MATCH, [(5, U), (8, M), (10, F)])
    await problem(api, c, ProblemKind.ILLNESS, ProblemContext.OTHER, [(6, U)], resolved=9)
    await problem(api, a, ProblemKind.INJURY, ProblemContext.TRAINING, [(-4, U)], resolved=2)
    rival = await api.user("rival")
    rival_team = await api.team(squad.outsider)
    rival_m = await api.join(rival_team, squad.outsider, rival)
    await problem(api, rival_m, ProblemKind.INJURY, ProblemContext.TRAINING, [(1, U)])

    body = await report(api.client, squad.team, squad.coach, **{"from": FROM, "to": TO})
    assert (body["from"], body["to"]) == (FROM.isoformat(), TO.isoformat())
    assert body["exposure_hours"] == {"training": 7.0, "match": 4.0, "total": 11.0}
    assert body["problems"] == {"injuries": 1, "illnesses": 1}
    assert body["incidence_per_1000h"] == {
        "training": 0.0,
        "match": 250.0,
        "total": pytest.approx(181.818, abs=1e-3),
    }
    assert body["days_lost"] == 10
    assert body["burden_per_1000h"] == pytest.approx(909.091, abs=1e-3)


async def test_weekly_prevalence_of_the_active_players(api: Api, squad: Squad) -> None:
    """Active players A, B, C; D answered the first week and was deactivated since.

    Week 1 (days 0-6): A healthy (0, 0, 0, 0); B reduced participation with a moderate
    reduction of volume (2, 2, 1, 1: substantial); D (1, 0, 0, 0) is not an active player.
    Respondents 2 of 3 players; prevalence 1/2; substantial 1/2.
    Week 2 (days 7-13): A full participation with a problem (1, 1, 1, 0: not
    substantial); B could not participate about the injury (3, 0, 0, 0: substantial) and
    also answered about an unnamed problem (1, 0, 0, 0), still one respondent; C healthy.
    Respondents 3; prevalence 2/3; substantial 1/3.
    """
    a, b = squad.player_membership, squad.teammate_membership
    c_user, d_user = await api.user("c"), await api.user("d")
    c = await api.join(squad.team, squad.coach, c_user)
    d = await api.join(squad.team, squad.coach, d_user)
    injury = await problem(api, b, ProblemKind.INJURY, ProblemContext.MATCH, [(5, U)])
    first, second = day(0), day(7)
    await ostrc(api, squad.player, a, first, (0, 0, 0, 0))
    await ostrc(api, squad.teammate, b, first, (2, 2, 1, 1))
    await ostrc(api, d_user, d, first, (1, 0, 0, 0))
    await ostrc(api, squad.player, a, second, (1, 1, 1, 0))
    await ostrc(api, squad.teammate, b, second, (3, 0, 0, 0), problem_id=injury)
    await ostrc(api, squad.teammate, b, second, (1, 0, 0, 0))
    await ostrc(api, c_user, c, second, (0, 0, 0, 0))
    response = await api.client.patch(
        f"/teams/{squad.team['id']}/members/{d['id']}",
        json={"active": False},
        headers=squad.owner.headers,
    )
    assert response.status_code == 200, response.text

    body = await report(api.client, squad.team, squad.owner, **{"from": FROM, "to": TO})
    assert body["weekly"] == [
        {
            "week": label(first),
            "players": 3,
            "respondents": 2,
            "prevalence": 0.5,
            "prevalence_substantial": 0.5,
        },
        {
            "week": label(second),
            "players": 3,
            "respondents": 3,
            "prevalence": pytest.approx(2 / 3),
            "prevalence_substantial": pytest.approx(1 / 3),
        },
    ]
    # A range from the Sunday of week 1 to the Monday of week 2 overlaps both weeks.
    overlap = await report(api.client, squad.team, squad.owner, **{"from": day(6), "to": day(7)})
    assert [w["week"] for w in overlap["weekly"]] == [label(first), label(second)]


async def test_the_default_range_without_data(client: httpx.AsyncClient, squad: Squad) -> None:
    """The last 28 days ending today; without exposure every rate is null, without answers
    every share is null; the weeks are the ISO weeks overlapping those 28 days."""
    body = await report(client, squad.team, squad.coach)
    start = TODAY - timedelta(days=27)
    assert (body["from"], body["to"]) == (start.isoformat(), TODAY.isoformat())
    assert body["exposure_hours"] == {"training": 0.0, "match": 0.0, "total": 0.0}
    assert body["incidence_per_1000h"] == {"training": None, "match": None, "total": None}
    assert (body["days_lost"], body["burden_per_1000h"]) == (0, None)
    mondays = []
    monday = start - timedelta(days=start.weekday())
    while monday <= TODAY:
        mondays.append(monday)
        monday += timedelta(days=7)
    assert body["weekly"] == [
        {
            "week": label(m),
            "players": 2,
            "respondents": 0,
            "prevalence": None,
            "prevalence_substantial": None,
        }
        for m in mondays
    ]


async def test_to_is_capped_at_today(client: httpx.AsyncClient, squad: Squad) -> None:
    later = TODAY + timedelta(days=10)
    body = await report(client, squad.team, squad.coach, **{"to": later.isoformat()})
    assert body["to"] == TODAY.isoformat()


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"from": "2026-02-10", "to": "2026-02-01"}, ["query", "from"]),
        ({"from": "2020-01-01", "to": "2026-01-01"}, ["query", "from"]),
        ({"from": "2026-02-30"}, ["query", "from"]),
        ({"to": "yesterday"}, ["query", "to"]),
    ],
)
async def test_bad_ranges_name_the_parameter(
    client: httpx.AsyncClient, squad: Squad, params: dict[str, Any], loc: list[Any]
) -> None:
    response = await client.get(report_path(squad.team), params=params, headers=squad.coach.headers)
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]]


async def test_only_staff_read_it(client: httpx.AsyncClient, squad: Squad) -> None:
    path = report_path(squad.team)
    assert (await client.get(path)).status_code == 401
    for actor, status in (
        (squad.player, 403),
        (squad.teammate, 403),
        (squad.outsider, 404),
        (squad.coach, 200),
        (squad.owner, 200),
        (squad.admin, 200),
    ):
        assert (await client.get(path, headers=actor.headers)).status_code == status


# --- cost ------------------------------------------------------------------------------


async def _team_of(api: Api, size: int) -> tuple[dict[str, Any], Actor]:
    """``size`` players, each present at two trainings and a match of the range, with an
    injury of two stages and an OSTRC answer in each of the range's two weeks."""
    owner = await api.user("owner")
    team = await api.team(owner)
    start = datetime.combine(day(1), time(10), UTC)
    async with api.sessionmaker.begin() as db:
        sessions = [
            TrainingSession(
                team_id=team["id"],
                title=f"S{n}",
                session_type=kind,
                start=start + timedelta(days=n),
                end=start + timedelta(days=n, minutes=90),
                day=day(1 + n),
            )
            for n, kind in (
                (0, SessionType.TECHNICAL),
                (2, SessionType.TACTICAL),
                (4, SessionType.MATCH),
            )
        ]
        db.add_all(sessions)
        for i in range(size):
            user = User(
                email=f"p{i}-{team['id']}@example.com", full_name=f"P{i}", password_hash="x"
            )
            db.add(user)
            await db.flush()
            member = TeamMembership(team_id=team["id"], user_id=user.id, role=Role.PLAYER)
            db.add(member)
            await db.flush()
            for s in sessions:
                db.add(
                    Attendance(
                        team_id=team["id"],
                        session_id=s.id,
                        membership_id=member.id,
                        status=AttendanceStatus.PRESENT,
                        minutes_participated=i % 2 * 45,
                    )
                )
            injury = HealthProblem(
                team_id=team["id"],
                membership_id=member.id,
                kind=ProblemKind.INJURY,
                onset_date=day(5),
                context=ProblemContext.MATCH,
            )
            db.add(injury)
            await db.flush()
            for n, availability in ((5, U), (9, M)):
                db.add(
                    HealthStage(
                        team_id=team["id"],
                        problem_id=injury.id,
                        from_date=day(n),
                        availability=availability,
                    )
                )
            for monday in (day(0), day(7)):
                db.add(
                    OstrcAnswer(
                        team_id=team["id"],
                        membership_id=member.id,
                        week=label(monday),
                        week_monday=monday,
                        q1=i % 4,
                        q2=0,
                        q3=0,
                        q4=0,
                    )
                )
    return team, owner


async def test_statement_count_does_not_grow_with_the_team(api: Api, engine: AsyncEngine) -> None:
    """The same statements for 2 players as for 10, with sessions, problems and answers."""
    counts = {}
    for size in (2, 10):
        team, owner = await _team_of(api, size)
        with count_statements(engine) as statements:
            body = await report(api.client, team, owner, **{"from": FROM, "to": TO})
        assert body["problems"]["injuries"] == size
        assert [w["respondents"] for w in body["weekly"]] == [size, size]
        counts[size] = len(statements)
    assert counts[2] == counts[10], counts
