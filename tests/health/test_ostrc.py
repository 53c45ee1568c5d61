"""The OSTRC-H2 routes: answering a week (scores by hand), replacing, validation naming the
field, the problem an answer opens and the alert an athlete's own report raises, the week's
consistency, and the list of a range."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from app.models import Availability, HealthProblem, HealthStage, ProblemContext
from tests.fixtures.actors import Actor, Api, Squad

WEEK = timedelta(days=7)


def monday(weeks_ago: int = 0, zone: str = "UTC") -> date:
    today = datetime.now(ZoneInfo(zone)).date()
    return today - timedelta(days=today.weekday()) - weeks_ago * WEEK


def label(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def week(weeks_ago: int = 0) -> str:
    return label(monday(weeks_ago))


def path(membership_id: int) -> str:
    return f"/performance/members/{membership_id}/ostrc"


async def answer(
    client: httpx.AsyncClient,
    squad: Squad,
    q: tuple[int, int, int, int],
    *,
    weeks_ago: int = 0,
    actor: Actor | None = None,
    membership_id: int | None = None,
    **extra: Any,
) -> httpx.Response:
    q1, q2, q3, q4 = q
    return await client.post(
        path(membership_id or squad.player_membership["id"]),
        json={"week": week(weeks_ago), "q1": q1, "q2": q2, "q3": q3, "q4": q4, **extra},
        headers=(actor or squad.player).headers,
    )


def _since(first: date) -> dict[str, Any]:
    """The ``from`` query parameter (a keyword Python reserves)."""
    return {"from": first.isoformat()}


async def answers(
    client: httpx.AsyncClient, squad: Squad, actor: Actor | None = None, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        path(squad.player_membership["id"]),
        params=params,
        headers=(actor or squad.coach).headers,
    )
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def assert_invalid(response: httpx.Response, loc: list[Any]) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert loc in [error["loc"] for error in response.json()["errors"]], response.json()


# --- answering and scoring --------------------------------------------------------------


async def test_an_answer_is_scored_then_replaced(client: httpx.AsyncClient, squad: Squad) -> None:
    """First answer: q1 = 2 (reduced participation, 17), q2 = 2 (moderate reduction of
    volume, 13), q3 = 1 (performance a little affected, 6), q4 = 1 (mild symptoms, 8):
    severity 17 + 13 + 6 + 8 = 44, substantial since q2 >= 2. The coach replaces it with
    q1 = 1 (8), q2 = 1 (6), q3 = 1 (6), q4 = 2 (17): severity 37, not substantial (q2 and
    q3 below 2, q1 not 3)."""
    created = await answer(client, squad, (2, 2, 1, 1))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body == {
        "id": body["id"],
        "membership_id": squad.player_membership["id"],
        "week": week(),
        "q1": 2,
        "q2": 2,
        "q3": 1,
        "q4": 1,
        "severity": 44,
        "substantial": True,
        "problem_id": None,
    }
    replaced = await answer(client, squad, (1, 1, 1, 2), actor=squad.coach)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() | {"id": body["id"]} == replaced.json()
    assert (replaced.json()["severity"], replaced.json()["substantial"]) == (37, False)
    assert [a["severity"] for a in await answers(client, squad)] == [37]


@pytest.mark.parametrize(
    ("q", "severity", "substantial"),
    [
        ((0, 0, 0, 0), 0, False),  # healthy: nothing scores
        ((3, 4, 4, 3), 100, True),  # 25 + 25 + 25 + 25
        ((3, 0, 0, 0), 25, True),  # could not participate: substantial by q1 alone
        ((1, 0, 2, 0), 8 + 13, True),  # performance moderately affected
        ((1, 1, 1, 3), 8 + 6 + 6 + 25, False),  # severe symptoms alone are not substantial
    ],
)
async def test_severity_and_substantial(
    client: httpx.AsyncClient,
    squad: Squad,
    q: tuple[int, int, int, int],
    severity: int,
    substantial: bool,
) -> None:
    response = await answer(client, squad, q, weeks_ago=3)
    assert response.status_code == 201, response.text
    assert (response.json()["severity"], response.json()["substantial"]) == (severity, substantial)


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"q1": 4}, ["body", "q1"]),
        ({"q1": -1}, ["body", "q1"]),
        ({"q2": 5}, ["body", "q2"]),
        ({"q3": -1}, ["body", "q3"]),
        ({"q4": 4}, ["body", "q4"]),
        ({"q1": "1"}, ["body", "q1"]),
        ({"q1": 1.5}, ["body", "q1"]),
        ({"q1": True}, ["body", "q1"]),
        ({"week": "2026-9"}, ["body", "week"]),
        ({"week": "2026-W9"}, ["body", "week"]),
        ({"week": "2026W09"}, ["body", "week"]),
        ({"week": "2026-W00"}, ["body", "week"]),
        ({"week": "2025-W53"}, ["body", "week"]),  # 2025 has 52 ISO weeks
        ({"week": "1999-W10"}, ["body", "week"]),
        ({"week": "2026-12-01"}, ["body", "week"]),
        ({"week": None}, ["body", "week"]),
        ({"new_problem": {"kind": "BRUISE"}}, ["body", "new_problem", "kind"]),
        (
            {"new_problem": {"kind": "INJURY", "body_area": "TAIL"}},
            ["body", "new_problem", "body_area"],
        ),
        (
            {"new_problem": {"kind": "INJURY", "diagnosis": "x"}},
            ["body", "new_problem", "diagnosis"],
        ),
        ({"problem_id": "1"}, ["body", "problem_id"]),
    ],
)
async def test_bad_answers_name_the_field(
    client: httpx.AsyncClient, squad: Squad, fields: dict[str, Any], loc: list[Any]
) -> None:
    body = {"week": week(1), "q1": 1, "q2": 0, "q3": 0, "q4": 0} | fields
    response = await client.post(
        path(squad.player_membership["id"]), json=body, headers=squad.player.headers
    )
    assert_invalid(response, loc)
    assert await answers(client, squad, **_since(monday(5))) == []


async def test_no_problem_leaves_nothing_else_to_answer(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    """q1 = 0 is full participation without a health problem: every other answer must be 0
    and no problem may be named or opened."""
    for q, loc in (((0, 1, 0, 0), "q2"), ((0, 0, 2, 0), "q3"), ((0, 0, 0, 1), "q4")):
        assert_invalid(await answer(client, squad, q), ["body", loc])
    opened = await answer(client, squad, (0, 0, 0, 0), new_problem={"kind": "ILLNESS"})
    assert_invalid(opened, ["body", "new_problem"])
    named = await answer(client, squad, (0, 0, 0, 0), problem_id=1)
    assert_invalid(named, ["body", "problem_id"])
    assert await answers(client, squad) == []


async def test_a_week_after_the_current_one_is_refused(api: Api) -> None:
    """In a team whose day starts 14 hours before UTC's: its current week is accepted, the
    one after it is not (the team's zone decides which week is current)."""
    owner, player = await api.user("owner"), await api.user("player")
    team = await api.team(owner, timezone="Pacific/Kiritimati")
    member = await api.join(team, owner, player)
    current = monday(zone="Pacific/Kiritimati")
    for day, status in ((current + WEEK, 422), (current, 201)):
        response = await api.client.post(
            path(member["id"]),
            json={"week": label(day), "q1": 0, "q2": 0, "q3": 0, "q4": 0},
            headers=player.headers,
        )
        assert response.status_code == status, response.text
        if status == 422:
            assert_invalid(response, ["body", "week"])


async def test_only_a_player_membership_answers(client: httpx.AsyncClient, squad: Squad) -> None:
    """A coach's own membership takes no answers (422 naming the path's membership_id); a
    teammate may not answer for the player (403), another team's owner does not see them
    (404)."""
    coach = await answer(
        client, squad, (0, 0, 0, 0), actor=squad.coach, membership_id=squad.coach_membership["id"]
    )
    assert_invalid(coach, ["path", "membership_id"])
    assert (await answer(client, squad, (0, 0, 0, 0), actor=squad.teammate)).status_code == 403
    assert (await answer(client, squad, (0, 0, 0, 0), actor=squad.outsider)).status_code == 404


# --- problems -----------------------------------------------------------------------------


async def _problem(api: Api, problem_id: int) -> tuple[HealthProblem, list[HealthStage]]:
    async with api.sessionmaker() as db:
        problem = await db.get_one(HealthProblem, problem_id)
        stages = await db.scalars(select(HealthStage).where(HealthStage.problem_id == problem_id))
        return problem, list(stages)


@pytest.mark.parametrize(
    ("q1", "availability"),
    [(3, Availability.UNAVAILABLE), (2, Availability.MODIFIED), (1, Availability.FULL)],
)
async def test_a_new_problem_is_opened_on_the_weeks_monday(
    api: Api, squad: Squad, q1: int, availability: Availability
) -> None:
    """Answering last week's questionnaire with a new knee injury opens it: context OTHER,
    onset last week's Monday, reported by the athlete, a first stage from that Monday
    chosen from q1 (3 could not participate -> UNAVAILABLE, 2 reduced -> MODIFIED, 1 full
    participation with a problem -> FULL), and no clinical field."""
    response = await answer(
        api.client,
        squad,
        (q1, 1, 1, 1),
        weeks_ago=1,
        new_problem={"kind": "INJURY", "body_area": "KNEE"},
    )
    assert response.status_code == 201, response.text
    problem_id = response.json()["problem_id"]
    assert problem_id is not None
    problem, stages = await _problem(api, problem_id)
    assert (problem.membership_id, problem.kind, problem.body_area) == (
        squad.player_membership["id"],
        "INJURY",
        "KNEE",
    )
    assert (problem.context, problem.onset_date, problem.resolved_on) == (
        ProblemContext.OTHER,
        monday(1),
        None,
    )
    assert problem.reported_by == squad.player.id
    assert (problem.diagnosis, problem.osiics_code, problem.clinical_notes) == (None, None, None)
    assert [(s.from_date, s.availability) for s in stages] == [(monday(1), availability)]


async def _alerts(client: httpx.AsyncClient, squad: Squad) -> list[dict[str, Any]]:
    response = await client.get(f"/teams/{squad.team['id']}/alerts", headers=squad.coach.headers)
    assert response.status_code == 200, response.text
    return [a for a in response.json() if a["kind"] == "HEALTH_PROBLEM_REPORTED"]


async def test_an_athletes_own_report_alerts_staff(client: httpx.AsyncClient, squad: Squad) -> None:
    """The player opens an illness in this week's answers: staff see an amber
    HEALTH_PROBLEM_REPORTED alert of today, naming the problem and the answers. The coach
    opening one for the teammate raises none (staff know already)."""
    by_staff = await answer(
        client,
        squad,
        (3, 4, 4, 3),
        actor=squad.coach,
        membership_id=squad.teammate_membership["id"],
        new_problem={"kind": "ILLNESS"},
    )
    assert by_staff.status_code == 201, by_staff.text
    assert await _alerts(client, squad) == []
    response = await answer(client, squad, (2, 2, 1, 1), new_problem={"kind": "ILLNESS"})
    assert response.status_code == 201, response.text
    (alert,) = await _alerts(client, squad)
    assert alert["membership_id"] == squad.player_membership["id"]
    assert (alert["severity"], alert["date"]) == ("amber", datetime.now(UTC).date().isoformat())
    assert "illness" in alert["message"] and week() in alert["message"]
    inputs = alert["evidence"]["inputs"]
    assert inputs["problem_id"] == response.json()["problem_id"]
    assert (inputs["kind"], inputs["availability"], inputs["severity"]) == (
        "ILLNESS",
        "MODIFIED",
        44,
    )


async def test_an_answer_names_one_of_the_members_open_problems(api: Api, squad: Squad) -> None:
    """Answering about a problem of this member links it (and replaces that answer next
    time); another member's, another team's and an unknown problem get the same 422 naming
    problem_id, and so does a problem that was not open during the week answered for."""
    client = api.client
    opened = await answer(client, squad, (2, 2, 0, 1), weeks_ago=1, new_problem={"kind": "INJURY"})
    own = opened.json()["problem_id"]
    linked = await answer(client, squad, (1, 1, 0, 1), problem_id=own)
    assert linked.status_code == 201, linked.text
    assert linked.json()["problem_id"] == own
    again = await answer(client, squad, (1, 0, 0, 1), problem_id=own)
    assert (again.status_code, again.json()["id"]) == (200, linked.json()["id"])

    mates = await answer(
        client,
        squad,
        (1, 0, 0, 1),
        actor=squad.teammate,
        membership_id=squad.teammate_membership["id"],
        new_problem={"kind": "INJURY"},
    )
    player = await api.user("rival")
    rival_team = await api.team(squad.outsider)
    rival = await api.join(rival_team, squad.outsider, player)
    foreign = await client.post(
        path(rival["id"]),
        json={
            "week": week(),
            "q1": 1,
            "q2": 0,
            "q3": 0,
            "q4": 0,
            "new_problem": {"kind": "ILLNESS"},
        },
        headers=player.headers,
    )
    assert foreign.status_code == 201, foreign.text
    current = await answer(client, squad, (2, 0, 0, 0), new_problem={"kind": "ILLNESS"})
    for problem_id, weeks_ago in (
        (mates.json()["problem_id"], 0),
        (foreign.json()["problem_id"], 0),
        (2**31 - 1, 0),
        (current.json()["problem_id"], 1),  # its onset is this week's Monday
    ):
        refused = await answer(
            client, squad, (1, 0, 0, 1), weeks_ago=weeks_ago, problem_id=problem_id
        )
        assert_invalid(refused, ["body", "problem_id"])
    both = await answer(client, squad, (1, 0, 0, 1), problem_id=own, new_problem={"kind": "INJURY"})
    assert_invalid(both, ["body", "new_problem"])


async def test_a_week_is_either_healthy_or_about_problems(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    """ "No problem" on Monday, then a new problem on Wednesday: the problem's answer
    replaces the healthy one. Reporting "no problem" again while the week holds an answer
    about a named problem is a 409, and the week keeps its answer."""
    healthy = await answer(client, squad, (0, 0, 0, 0))
    assert healthy.status_code == 201, healthy.text
    sick = await answer(client, squad, (2, 1, 1, 1), new_problem={"kind": "ILLNESS"})
    assert sick.status_code == 201, sick.text
    assert [a["id"] for a in await answers(client, squad)] == [sick.json()["id"]]
    again = await answer(client, squad, (0, 0, 0, 0))
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert [a["id"] for a in await answers(client, squad)] == [sick.json()["id"]]


# --- listing --------------------------------------------------------------------------------


async def test_the_list_holds_the_weeks_overlapping_the_range(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    """Answers for 0, 1, 2 and 5 weeks ago. A range from the Sunday of 2 weeks ago to the
    Tuesday of last week overlaps the ISO weeks of 2 weeks ago and of last week; the default
    range (the last 28 days) overlaps 4 or 5 weeks, so not the one 5 weeks ago."""
    for weeks_ago in (5, 2, 1, 0):
        response = await answer(client, squad, (1, 1, 0, 0), weeks_ago=weeks_ago)
        assert response.status_code == 201, response.text
    ranged = await answers(
        client,
        squad,
        **_since(monday(2) + timedelta(days=6)),
        to=(monday(1) + timedelta(days=1)).isoformat(),
    )
    assert [a["week"] for a in ranged] == [week(2), week(1)]
    assert [a["week"] for a in await answers(client, squad)] == [week(2), week(1), week(0)]
    page = await answers(client, squad, limit=2, offset=1, **_since(monday(6)))
    assert [a["week"] for a in page] == [week(2), week(1)]
    own = await answers(client, squad, actor=squad.player)
    assert len(own) == 3
    for actor, status in ((squad.teammate, 403), (squad.outsider, 404)):
        response = await client.get(path(squad.player_membership["id"]), headers=actor.headers)
        assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"from": "2026-02-10", "to": "2026-02-01"}, ["query", "from"]),
        ({"from": "2020-01-01", "to": "2026-01-01"}, ["query", "from"]),
        ({"from": "01/02/2026"}, ["query", "from"]),
        ({"limit": 1001}, ["query", "limit"]),
        ({"offset": -1}, ["query", "offset"]),
    ],
)
async def test_bad_ranges_name_the_parameter(
    client: httpx.AsyncClient, squad: Squad, params: dict[str, Any], loc: list[Any]
) -> None:
    response = await client.get(
        path(squad.player_membership["id"]), params=params, headers=squad.coach.headers
    )
    assert_invalid(response, loc)
