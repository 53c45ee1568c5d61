"""OSTRC-H2 answers (Clarsen et al. 2013, 2020): a member's weekly answers, one per (week,
problem), the problem an answer opens, and the alert an athlete's own report raises.

A week holds either one answer about no problem (q1 = 0) or answers about problems (q1 > 0):
an answer about a named problem replaces the week's "no problem" answer, and a "no problem"
answer while the week holds answers about named problems is a 409. The scores are
:func:`app.services.health.rules.ostrc_severity` and ``ostrc_substantial``.
"""

from datetime import date, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import upsert_one
from app.errors import Conflict, Invalid
from app.models import (
    AlertKind,
    AuditAction,
    AuditResource,
    Availability,
    HealthProblem,
    OstrcAnswer,
    ProblemContext,
    Severity,
    TeamMembership,
)
from app.models.base import utcnow
from app.schemas.ostrc import NewProblem, OstrcCreate, week_monday
from app.services.alerts import service as alerts
from app.services.health import problems, rules
from app.services.loads.summary import monday_of
from app.services.platform.days import DayRange, team_zone, today
from app.services.teams import access as teams
from app.services.teams.access import MemberAccess

# The first availability stage of a problem an answer opens, from q1 (participation):
# could not participate, reduced participation, full participation with a problem.
FIRST_STAGE = {3: Availability.UNAVAILABLE, 2: Availability.MODIFIED, 1: Availability.FULL}
NO_PROBLEM = 0  # the problem_key of an answer about no (or no named) problem
_SUNDAY = timedelta(days=6)


def check_consistent(body: OstrcCreate) -> None:
    """q1 = 0 (full participation without a health problem) leaves nothing else to answer
    and no problem to name; a problem is either named or opened, not both."""
    if body.q1 == 0:
        for name in ("q2", "q3", "q4"):
            if getattr(body, name) != 0:
                raise Invalid(
                    f"{name} must be 0 when q1 is 0 (no health problem that week)",
                    field=("body", name),
                )
        for name in ("problem_id", "new_problem"):
            if getattr(body, name) is not None:
                raise Invalid(
                    "no problem may be named when q1 is 0 (no health problem that week)",
                    field=("body", name),
                )
    if body.problem_id is not None and body.new_problem is not None:
        raise Invalid(
            "name a problem (problem_id) or open one (new_problem), not both",
            field=("body", "new_problem"),
        )


async def record(
    db: AsyncSession, member: MemberAccess, body: OstrcCreate
) -> tuple[OstrcAnswer, bool]:
    """Store the member's answer for the week about one problem (or none); returns it and
    whether it is new (else it replaced the answer of the same week and problem). The
    caller (the athlete, or staff of the team) is the problem's ``reported_by``.

    ``new_problem`` opens the problem first (see :func:`open_problem`); when the athlete
    answers themselves, that raises ``HEALTH_PROBLEM_REPORTED`` for staff to triage.

    Appends the request's one audit entry (``ostrc``, create or update, the answer's id);
    a problem the answer opens is reached through the answer's ``problem_id``.
    """
    check_consistent(body)
    membership, user_id = member.membership, member.team_access.user.id
    monday = week_monday(body.week)
    local_today = today(team_zone(member.team_access.team))
    if monday > monday_of(local_today):
        raise Invalid("week cannot be after the current week (team's zone)", field=("body", "week"))
    if body.problem_id is not None:
        await _check_problem(db, membership.id, body.problem_id, monday)
    await _check_week(db, membership.id, body)
    problem_id = body.problem_id
    if body.new_problem is not None:
        stage = FIRST_STAGE[body.q1]
        problem = await open_problem(db, member, body.new_problem, monday, stage)
        problem_id = problem.id
        if membership.user_id == user_id:
            await _self_reported(db, membership, problem, body, stage, local_today)
    answer, created = await _store(db, membership, body, monday, problem_id)
    await _audit(db, member, AuditAction.CREATE if created else AuditAction.UPDATE, answer.id)
    return answer, created


async def _audit(
    db: AsyncSession, member: MemberAccess, action: AuditAction, answer_id: int | None
) -> None:
    await teams.record_member_access(db, member, action, AuditResource.OSTRC, answer_id)


async def _store(
    db: AsyncSession,
    membership: TeamMembership,
    body: OstrcCreate,
    monday: date,
    problem_id: int | None,
) -> tuple[OstrcAnswer, bool]:
    """Upsert the answer on (member, week, problem); an answer about a problem first
    removes the week's "no problem" answer, which no longer holds."""
    if problem_id is not None:
        await db.execute(
            delete(OstrcAnswer).where(
                OstrcAnswer.membership_id == membership.id,
                OstrcAnswer.week == body.week,
                OstrcAnswer.problem_key == NO_PROBLEM,
                OstrcAnswer.q1 == 0,
            )
        )
    return await upsert_one(
        db,
        OstrcAnswer,
        {
            "team_id": membership.team_id,
            "membership_id": membership.id,
            "week": body.week,
            "week_monday": monday,
            "problem_id": problem_id,
            "problem_key": problem_id or NO_PROBLEM,
            "q1": body.q1,
            "q2": body.q2,
            "q3": body.q3,
            "q4": body.q4,
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
        conflict=["membership_id", "week", "problem_key"],
        update=["problem_id", "q1", "q2", "q3", "q4", "updated_at"],
    )


async def _check_problem(
    db: AsyncSession, membership_id: int, problem_id: int, monday: date
) -> None:
    """A named problem is one of this member's, open during the week. An unknown problem,
    another member's and another team's get the same 422, so nothing tells them apart."""
    query = select(
        HealthProblem.membership_id, HealthProblem.onset_date, HealthProblem.resolved_on
    ).where(HealthProblem.id == problem_id)
    row = (await db.execute(query)).first()
    if row is None or row.membership_id != membership_id:
        raise Invalid("not one of this member's health problems", field=("body", "problem_id"))
    if row.onset_date > monday + _SUNDAY or (
        row.resolved_on is not None and row.resolved_on <= monday
    ):
        raise Invalid(
            "this problem was not open during that week (onset after it, or resolved before)",
            field=("body", "problem_id"),
        )


async def _check_week(db: AsyncSession, membership_id: int, body: OstrcCreate) -> None:
    """409 for "no problem that week" while the week holds answers about named problems."""
    if body.q1 != 0:
        return
    named = exists().where(
        OstrcAnswer.membership_id == membership_id,
        OstrcAnswer.week == body.week,
        OstrcAnswer.problem_key != NO_PROBLEM,
    )
    if await db.scalar(select(named)):
        raise Conflict(
            f"{body.week} already holds answers about health problems; answer about those "
            "(q1 > 0) instead of reporting no problem"
        )


async def open_problem(
    db: AsyncSession,
    member: MemberAccess,
    new: NewProblem,
    onset: date,
    availability: Availability,
) -> HealthProblem:
    """Open the problem an answer reports, through the health problems' own rules: context
    OTHER, onset the week's Monday, one stage from then on, no clinical field. Its alert
    is the answer's own (:func:`_self_reported`), with the answers in the evidence."""
    view = await problems.create_problem(
        db,
        member.team_access,
        member.membership,
        kind=new.kind,
        onset_date=onset,
        context=ProblemContext.OTHER,
        body_area=new.body_area,
        availability=availability,
        where=("body", "new_problem"),
        alert_self_report=False,
        audited=False,
    )
    return view.problem


async def _self_reported(
    db: AsyncSession,
    membership: TeamMembership,
    problem: HealthProblem,
    body: OstrcCreate,
    stage: Availability,
    day: date,
) -> None:
    """``HEALTH_PROBLEM_REPORTED`` (amber) on the day of the report, for staff to triage:
    the evidence every self-report carries, plus the week's answers and their scores."""
    kind = problem.kind.value.lower()
    where = f" ({problem.body_area.value})" if problem.body_area else ""
    severity = rules.ostrc_severity(body.q1, body.q2, body.q3, body.q4)
    evidence = alerts.health_problem_evidence(problem, stage)
    evidence["params"]["source"] = "ostrc"
    evidence["inputs"] |= {
        "week": body.week,
        "answers": {"q1": body.q1, "q2": body.q2, "q3": body.q3, "q4": body.q4},
        "severity": severity,
        "substantial": rules.ostrc_substantial(body.q1, body.q2, body.q3),
    }
    await alerts.raise_alert(
        db,
        membership,
        AlertKind.HEALTH_PROBLEM_REPORTED,
        day,
        Severity.AMBER,
        f"New {kind}{where} reported by the athlete in the OSTRC-H2 answers for {body.week} "
        f"(severity {severity}): to triage",
        evidence,
    )


async def list_answers(
    db: AsyncSession, membership_id: int, days: DayRange, *, limit: int, offset: int
) -> list[OstrcAnswer]:
    """The member's answers of the ISO weeks overlapping ``days``, oldest week first."""
    rows = await db.scalars(
        select(OstrcAnswer)
        .where(
            OstrcAnswer.membership_id == membership_id,
            OstrcAnswer.week_monday >= monday_of(days.start),
            OstrcAnswer.week_monday <= days.end,
        )
        .order_by(OstrcAnswer.week_monday, OstrcAnswer.problem_key, OstrcAnswer.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows)


async def read_answers(
    db: AsyncSession, member: MemberAccess, days: DayRange, *, limit: int, offset: int
) -> list[OstrcAnswer]:
    """:func:`list_answers` for a reader of the member's answers (the athlete, or staff):
    the read is recorded in the audit log (one entry, no ``resource_id``)."""
    answers = await list_answers(db, member.membership.id, days, limit=limit, offset=offset)
    await _audit(db, member, AuditAction.READ, None)
    return answers
