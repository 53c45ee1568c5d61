"""A season of health data for one benchmark team: injuries and illnesses with their
availability stages, and weekly OSTRC-H2 answers.

The shape follows what a medical staff records for a 40-player squad (Bahr et al. 2020;
Clarsen et al. 2020): over the seeded year each player has a problem every five months or
so, about half of them injuries that cost training (unavailable, then modified, then
resolved), a quarter injuries the player trains through (one ``FULL`` stage) and a quarter
short illnesses; a quarter of the players have a problem open today (with a stage or two);
over the last :data:`SEASON_WEEKS` weeks about 80 % of the players answer the OSTRC-H2
each week, about each problem open that week or about no problem. Rows go in through the
models in bulk (``insert`` with many parameter sets), as the rest of the bench's data do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Availability,
    BodyArea,
    HealthProblem,
    HealthStage,
    Mechanism,
    OstrcAnswer,
    ProblemContext,
    ProblemKind,
    SessionType,
    Side,
    TrainingSession,
)
from app.services.loads.summary import iso_week_label, monday_of
from bench.seed import World

SEASON_WEEKS = 26
"""The health report's range: the last 26 weeks (182 days), today included."""

OPEN_SHARE = 0.25
"""Share of the players with a problem open today."""

MEAN_GAP_DAYS = 150.0
"""Mean days from one resolved problem to the next onset of the same player."""

MATCH_INJURY_SHARE = 0.4
"""Share of the injuries that happen in the week's match (match incidence is several
times the training incidence per hour)."""

OSTRC_RESPONSE_RATE = 0.80
MINOR_COMPLAINT_RATE = 0.10
"""Share of the answers about no recorded problem that still report one (q1 = 1)."""

SHAPES = (
    ("illness", 0.25, (2, 7)),
    ("time loss", 0.50, (7, 42)),
    ("trained through", 0.25, (7, 45)),
)
"""(shape, share, planned length in days from onset to resolution) of the problems."""

INJURY_AREAS = {
    BodyArea.THIGH: ("Hamstring strain", 6),
    BodyArea.KNEE: ("Knee sprain", 3),
    BodyArea.ANKLE: ("Ankle sprain", 4),
    BodyArea.HIP_GROIN: ("Adductor strain", 3),
    BodyArea.LOWER_LEG: ("Calf strain", 3),
    BodyArea.FOOT: ("Foot contusion", 1),
    BodyArea.LUMBAR_SPINE: ("Low back pain", 2),
    BodyArea.SHOULDER: ("Shoulder sprain", 1),
}
"""Body area -> (summary for the coaches, weight): lower limbs first, as in football."""

_DAY = timedelta(days=1)


def season_start(today: date) -> date:
    """The first day of the season the health report covers."""
    return today - timedelta(weeks=SEASON_WEEKS) + _DAY


@dataclass
class Planned:
    """One problem before it has an id: its row, and its stages as (from, availability)."""

    row: dict[str, Any]
    stages: list[tuple[date, Availability]]

    @property
    def member(self) -> int:
        return int(self.row["membership_id"])

    def open_during(self, first: date, last: date) -> list[Availability]:
        """The availabilities the problem had on the days from ``first`` to ``last``."""
        onset, resolved = self.row["onset_date"], self.row["resolved_on"]
        end = last if resolved is None else min(last, resolved - _DAY)
        if onset > end or first > end:
            return []
        found = [level for start, level in self.stages if max(first, onset) <= start <= end]
        before = [level for start, level in self.stages if start < max(first, onset)]
        return found + before[-1:]


def _context(
    day: date, sessions: dict[date, tuple[int, SessionType]]
) -> tuple[ProblemContext, int | None]:
    """An injury's context and session from the day's session (OTHER on a rest day)."""
    found = sessions.get(day)
    if found is None:
        return ProblemContext.OTHER, None
    session_id, kind = found
    context = ProblemContext.MATCH if kind is SessionType.MATCH else ProblemContext.TRAINING
    return context, session_id


def _last_match(day: date, sessions: dict[date, tuple[int, SessionType]]) -> date:
    """The day of the last match on or before ``day`` within a week (else ``day``)."""
    for back in range(7):
        found = sessions.get(day - timedelta(days=back))
        if found is not None and found[1] is SessionType.MATCH:
            return day - timedelta(days=back)
    return day


def _stages(
    rng: random.Random, shape: str, onset: date, length: int
) -> list[tuple[date, Availability]]:
    """An illness keeps the player out; an injury costs training (unavailable, then
    modified from half-way to four fifths of its length) or is trained through."""
    if shape == "illness":
        return [(onset, Availability.UNAVAILABLE)]
    if shape == "trained through":
        return [(onset, Availability.FULL)]
    back = onset + timedelta(days=max(1, round(length * rng.uniform(0.5, 0.8))))
    return [(onset, Availability.UNAVAILABLE), (back, Availability.MODIFIED)]


def _problem(
    rng: random.Random,
    member: int,
    day: date,
    today: date,
    sessions: dict[date, tuple[int, SessionType]],
    *,
    open_: bool,
) -> Planned:
    """An illness, a time-loss injury or an injury trained through (:data:`SHAPES`):
    starting on ``day`` and resolved after its planned length; or, when ``open_``, open on
    ``day`` some way through its planned length, with the stages begun by then and its
    expected return. A share of the injuries begin in the last match before."""
    shape, (shortest, longest) = rng.choices(
        [(name, days) for name, _, days in SHAPES], weights=[w for _, w, _ in SHAPES]
    )[0]
    length = rng.randint(shortest, longest)
    onset = day - timedelta(days=rng.randrange(length)) if open_ else day
    area, summary = None, "Illness"
    context, session_id = ProblemContext.OTHER, None
    if shape != "illness":
        areas = list(INJURY_AREAS)
        area = rng.choices(areas, weights=[INJURY_AREAS[a][1] for a in areas])[0]
        summary = INJURY_AREAS[area][0]
        if rng.random() < MATCH_INJURY_SHARE:
            onset = _last_match(onset, sessions)
        context, session_id = _context(onset, sessions)
    planned_end = onset + timedelta(days=length)
    stages = [
        (start, level)
        for start, level in _stages(rng, shape, onset, length)
        if start <= today and start < planned_end
    ]
    row = {
        "membership_id": member,
        "kind": ProblemKind.ILLNESS if area is None else ProblemKind.INJURY,
        "onset_date": onset,
        "context": context,
        "session_id": session_id,
        "body_area": area,
        "side": None if area is None else rng.choice([Side.LEFT, Side.RIGHT]),
        "mechanism": None if area is None else rng.choice(list(Mechanism)),
        "summary": summary,
        "expected_return": planned_end if open_ else None,
        "resolved_on": None if open_ else planned_end,
        "diagnosis": summary,
    }
    return Planned(row, stages)


def plan_problems(
    rng: random.Random,
    players: list[int],
    world: World,
    sessions: dict[date, tuple[int, SessionType]],
) -> list[Planned]:
    """Each player's resolved problems over the year, one after the other, and a problem
    open today for :data:`OPEN_SHARE` of the players."""
    planned = []
    for member in players:
        onset = world.first_day + timedelta(days=round(rng.expovariate(1 / MEAN_GAP_DAYS)))
        while onset < world.today:
            problem = _problem(rng, member, onset, world.today, sessions, open_=False)
            if problem.row["resolved_on"] > world.today:
                break
            planned.append(problem)
            gap = round(rng.expovariate(1 / MEAN_GAP_DAYS))
            onset = problem.row["resolved_on"] + timedelta(days=gap)
    for member in rng.sample(players, round(OPEN_SHARE * len(players))):
        planned.append(_problem(rng, member, world.today, world.today, sessions, open_=True))
    return planned


def _answer(rng: random.Random, levels: list[Availability]) -> tuple[int, int, int, int]:
    """(q1, q2, q3, q4) about a problem with these availabilities in the week: q1 from the
    worst (3 could not participate, 2 reduced, 1 full with a problem)."""
    if Availability.UNAVAILABLE in levels:
        return 3, 4, rng.randint(3, 4), rng.randint(2, 3)
    if Availability.MODIFIED in levels:
        return 2, rng.randint(1, 3), rng.randint(1, 3), rng.randint(1, 2)
    return 1, rng.randint(0, 2), rng.randint(0, 2), rng.randint(1, 2)


def plan_answers(
    rng: random.Random, players: list[int], planned: list[Planned], ids: list[int], today: date
) -> list[dict[str, Any]]:
    """Weekly OSTRC-H2 answers over the season from :data:`OSTRC_RESPONSE_RATE` of the
    players: one about each problem open that week, or one about no problem (mostly all
    zeros, now and then a minor complaint)."""
    by_member: dict[int, list[tuple[int, Planned]]] = {}
    for problem_id, problem in zip(ids, planned, strict=True):
        by_member.setdefault(problem.member, []).append((problem_id, problem))
    answers = []
    monday = monday_of(season_start(today))
    while monday <= today:
        for member in players:
            if rng.random() >= OSTRC_RESPONSE_RATE:
                continue
            base = {"membership_id": member, "week": iso_week_label(monday), "week_monday": monday}
            sunday = min(today, monday + timedelta(days=6))
            about = [
                (problem_id, levels)
                for problem_id, problem in by_member.get(member, [])
                if (levels := problem.open_during(monday, sunday))
            ]
            for problem_id, levels in about:
                q1, q2, q3, q4 = _answer(rng, levels)
                answers.append(
                    base
                    | {"problem_id": problem_id, "problem_key": problem_id}
                    | {"q1": q1, "q2": q2, "q3": q3, "q4": q4}
                )
            if not about:
                minor = rng.random() < MINOR_COMPLAINT_RATE
                q = (1, rng.randint(0, 1), rng.randint(0, 1), 1) if minor else (0, 0, 0, 0)
                answers.append(
                    base
                    | {"problem_id": None, "problem_key": 0}
                    | dict(zip(("q1", "q2", "q3", "q4"), q, strict=True))
                )
        monday += timedelta(weeks=1)
    return answers


async def seed_health(
    session: AsyncSession,
    team_id: int,
    players: list[int],
    world: World,
    rng: random.Random,
    reporter: int,
) -> dict[str, Any]:
    """The team's problems (recorded by ``reporter``), their stages and the season's
    OSTRC-H2 answers; returns what was seeded."""
    rows = await session.execute(
        select(TrainingSession.day, TrainingSession.id, TrainingSession.session_type).where(
            TrainingSession.team_id == team_id
        )
    )
    sessions = {day: (session_id, kind) for day, session_id, kind in rows}
    planned = plan_problems(rng, players, world, sessions)
    ids = list(
        await session.scalars(
            insert(HealthProblem).returning(HealthProblem.id, sort_by_parameter_order=True),
            [p.row | {"team_id": team_id, "reported_by": reporter} for p in planned],
        )
    )
    stages = [
        {"team_id": team_id, "problem_id": problem_id, "from_date": start, "availability": level}
        for problem_id, problem in zip(ids, planned, strict=True)
        for start, level in problem.stages
    ]
    await session.execute(insert(HealthStage), stages)
    answers = plan_answers(rng, players, planned, ids, world.today)
    await session.execute(insert(OstrcAnswer), [a | {"team_id": team_id} for a in answers])
    start = season_start(world.today)
    return {
        "health_problems": len(planned),
        "health_problems_in_season": sum(p.row["onset_date"] >= start for p in planned),
        "health_problems_open_today": sum(p.row["resolved_on"] is None for p in planned),
        "health_stages": len(stages),
        "ostrc_answers": len(answers),
        "ostrc_respondent_weeks": len({(a["membership_id"], a["week"]) for a in answers}),
    }
