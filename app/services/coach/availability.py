"""Each player's availability and health summary for the coach views (roster, dashboard,
weekly reports, ``availability.changed``), from the team's health problems.

One statement reads every problem of the team that is open on some day of a range, with
its stages, whatever the team's size; :func:`app.services.health.rules.member_availability`
then gives a member's availability of each day. Only what the rules and the coaches need
is selected (dates, stages and ``summary``, the text meant for the coaches): the clinical
fields (diagnosis, OSIICS code, clinical notes) are never read here, so no coach view can
show them. Request-scoped: it takes the caller's session and never begins or commits.
"""

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, cast

from sqlalchemy import Date, Integer, Select, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import HealthProblem, HealthStage
from app.services.health import rules

Level = Literal["available", "modified", "unavailable"]
LEVELS: tuple[Level, ...] = ("available", "modified", "unavailable")
SUMMARY_SEPARATOR = "; "

_TEAM = bindparam("team_id", type_=Integer)
_FIRST = bindparam("first", type_=Date)
_LAST = bindparam("last", type_=Date)


@dataclass(frozen=True)
class Problem:
    """What the coach views know of a problem: the rules' dates and stages, and the
    summary for the coaches."""

    dates: rules.Problem
    summary: str | None

    def open_on(self, day: date) -> bool:
        """From onset until the day before ``resolved_on`` (open for good without one)."""
        resolved = self.dates.resolved_on
        return self.dates.onset <= day and (resolved is None or day < resolved)


@dataclass(frozen=True)
class TeamHealth:
    """The team's problems open on some day of the range read, per member, in onset
    order. A member without any is available, with no summary."""

    problems: Mapping[int, Sequence[Problem]]

    def availability(self, member: int, day: date) -> Level:
        """The member's availability on ``day``: the most restrictive of their problems."""
        found = rules.member_availability(
            (problem.dates for problem in self.problems.get(member, ())), day
        )
        return cast(Level, found)  # rules.MEMBER_AVAILABILITY has exactly these values

    def summary(self, member: int, day: date) -> str | None:
        """The summaries of the member's problems open on ``day``, oldest first, joined
        with "; "; None when none of them has one."""
        texts = [
            problem.summary.strip()
            for problem in self.problems.get(member, ())
            if problem.summary and problem.summary.strip() and problem.open_on(day)
        ]
        return SUMMARY_SEPARATOR.join(texts) or None


@functools.cache
def _statement() -> Select[*tuple[Any, ...]]:
    """The team's problems open on some day of [first, last], each with its stages up to
    ``last`` (one row per stage; a problem without a stage has one row of nulls)."""
    return (
        select(
            HealthProblem.membership_id,
            HealthProblem.id,
            HealthProblem.onset_date,
            HealthProblem.resolved_on,
            HealthProblem.summary,
            HealthStage.from_date,
            HealthStage.availability,
        )
        .outerjoin(
            HealthStage,
            and_(HealthStage.problem_id == HealthProblem.id, HealthStage.from_date <= _LAST),
        )
        .where(
            HealthProblem.team_id == _TEAM,
            HealthProblem.onset_date <= _LAST,
            or_(HealthProblem.resolved_on.is_(None), HealthProblem.resolved_on > _FIRST),
        )
        .order_by(HealthProblem.onset_date, HealthProblem.id, HealthStage.from_date)
    )


async def read(db: AsyncSession, team_id: int, first: date, last: date) -> TeamHealth:
    """The team's problems open on some day from ``first`` to ``last``, in one statement."""
    rows = await db.execute(_statement(), {"team_id": team_id, "first": first, "last": last})
    members: dict[int, list[int]] = {}
    heads: dict[int, tuple[date, date | None, str | None]] = {}
    stages: dict[int, list[rules.Stage]] = {}
    for member, problem, onset, resolved, summary, start, level in rows:
        if problem not in heads:
            members.setdefault(member, []).append(problem)
            heads[problem] = (onset, resolved, summary)
            stages[problem] = []
        if start is not None:
            stages[problem].append(rules.Stage(start, level))
    return TeamHealth(
        {
            member: [
                Problem(rules.Problem(heads[p][0], heads[p][1], stages[p]), heads[p][2])
                for p in problems
            ]
            for member, problems in members.items()
        }
    )


def counts(levels: Sequence[Level]) -> dict[Level, int]:
    """How many players are available, modified and unavailable (every key present)."""
    tally = dict.fromkeys(LEVELS, 0)
    for level in levels:
        tally[level] += 1
    return tally
