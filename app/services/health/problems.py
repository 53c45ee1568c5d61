"""Health problems in the request's transaction: recording, reading (with their stages),
changing, resolving and deleting them, and the availability stages.

Who may: the routes' permission dependencies check who may read or write the member's
data (the athlete, or staff of the team: coaches, medical staff, owners); this module adds
the health rules of the contract's Roles table: only MEDICAL staff write the clinical
fields (diagnosis, OSIICS code, clinical notes), which only they and the athlete read;
stages are recorded by staff; a problem is deleted by MEDICAL staff or owners. Clinical
values never go into a log line, an error message, an alert or an outbound payload.

Every read (a list: one entry without ``resource_id``; one problem: its id) and every write
(stages included) appends one audit entry, here, where every route to the data passes.
"""

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import upsert_one
from app.errors import Forbidden, Invalid, NotFound
from app.models import (
    AuditAction,
    AuditResource,
    Availability,
    BodyArea,
    HealthProblem,
    HealthStage,
    Mechanism,
    ProblemContext,
    ProblemKind,
    Side,
    TeamMembership,
    TrainingSession,
)
from app.models.base import utcnow
from app.schemas import health as schemas
from app.services.alerts import service as alerts
from app.services.health import rules
from app.services.platform.days import team_zone, today
from app.services.teams import access as teams
from app.services.teams.access import Loc, MemberAccess, TeamAccess

logger = logging.getLogger("loadline.health")

CLINICAL = schemas.CLINICAL_FIELDS
NOT_MEDICAL = "Only the team's medical staff may write diagnosis, osiics_code or clinical_notes"
PROBLEM_NOT_FOUND = "Health problem not found"


@dataclass(frozen=True)
class ProblemView:
    """A problem with its stages (oldest first), its member and the caller's rights."""

    problem: HealthProblem
    stages: list[HealthStage]
    member: MemberAccess

    @property
    def access(self) -> TeamAccess:
        return self.member.team_access


def reads_clinical(access: TeamAccess, membership: TeamMembership) -> bool:
    """The clinical fields are for the team's MEDICAL staff and the athlete themselves."""
    return access.is_medical or membership.user_id == access.user.id


def _refuse_clinical(access: TeamAccess, sent: Collection[str]) -> None:
    """403 before anything is stored when a caller who may not write clinical fields sends
    one. The message names the fields, never what was sent in them."""
    if not access.is_medical and any(name in sent for name in CLINICAL):
        raise Forbidden(NOT_MEDICAL)


async def _audit(
    db: AsyncSession, member: MemberAccess, action: AuditAction, problem_id: int | None
) -> None:
    """The request's audit entry: the caller touched this member's health problems."""
    await teams.record_member_access(db, member, action, AuditResource.HEALTH_PROBLEM, problem_id)


# --- the date rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dates:
    """What the date rules look at: the problem's fields as they would be stored."""

    onset_date: date
    expected_return: date | None
    resolved_on: date | None
    session_id: int | None
    later_stages: Sequence[date]  # the stages after the first one (which is at onset)


async def _check_dates(
    db: AsyncSession,
    team_id: int,
    dates: _Dates,
    *,
    changed: Collection[str],
    local_today: date,
    where: Loc,
) -> None:
    """422 naming the field at fault: of two fields that disagree, the one the request sent
    (the later one when it sent both)."""

    def blame(name: str, otherwise: str) -> Loc:
        return (*where, name if name in changed else otherwise)

    onset = dates.onset_date
    if "onset_date" in changed and onset > local_today:
        raise Invalid(
            "onset_date cannot be in the future (team's time zone)", field=(*where, "onset_date")
        )
    if dates.expected_return is not None and dates.expected_return < onset:
        raise Invalid(
            "expected_return cannot be before onset_date",
            field=blame("expected_return", "onset_date"),
        )
    if dates.later_stages and min(dates.later_stages) <= onset:
        raise Invalid(
            f"onset_date must come before the problem's later stages (from "
            f"{min(dates.later_stages).isoformat()})",
            field=(*where, "onset_date"),
        )
    _check_resolution(dates, changed, local_today, blame)
    if dates.session_id is not None and {"session_id", "onset_date"} & set(changed):
        training_session = await db.get(TrainingSession, dates.session_id)
        if (
            training_session is None
            or training_session.team_id != team_id
            or training_session.day != onset
        ):
            raise Invalid(
                "session_id must be a session of the member's team on onset_date",
                field=blame("session_id", "onset_date"),
            )


Blame = Callable[[str, str], Loc]


def _check_resolution(
    dates: _Dates, changed: Collection[str], local_today: date, blame: Blame
) -> None:
    """``resolved_on``: not in the future, not before onset nor before the last stage."""
    resolved = dates.resolved_on
    if resolved is None:
        return
    if "resolved_on" in changed and resolved > local_today:
        raise Invalid(
            "resolved_on cannot be in the future (team's time zone)",
            field=blame("resolved_on", "resolved_on"),
        )
    if resolved < dates.onset_date:
        raise Invalid(
            "resolved_on cannot be before onset_date", field=blame("resolved_on", "onset_date")
        )
    if dates.later_stages and resolved < max(dates.later_stages):
        raise Invalid(
            f"resolved_on cannot be before the last stage (from "
            f"{max(dates.later_stages).isoformat()})",
            field=blame("resolved_on", "resolved_on"),
        )


# --- recording -------------------------------------------------------------------------------


async def create_problem(
    db: AsyncSession,
    access: TeamAccess,
    membership: TeamMembership,
    *,
    kind: ProblemKind,
    onset_date: date,
    context: ProblemContext,
    session_id: int | None = None,
    body_area: BodyArea | None = None,
    side: Side | None = None,
    mechanism: Mechanism | None = None,
    availability: Availability = Availability.UNAVAILABLE,
    summary: str | None = None,
    expected_return: date | None = None,
    diagnosis: str | None = None,
    osiics_code: str | None = None,
    clinical_notes: str | None = None,
    where: Loc = ("body",),
    alert_self_report: bool = True,
    audited: bool = True,
) -> ProblemView:
    """Record a problem of ``membership`` with its first stage (``availability`` from onset).

    ``alert_self_report``: an athlete's own problem raises ``HEALTH_PROBLEM_REPORTED``; the
    OSTRC answers raise theirs with the answers in the evidence, and pass False.
    ``audited``: append the request's audit entry; an OSTRC answer that opens a problem
    passes False, its own entry (``ostrc``) being the request's one.

    The caller's right to write the member's data (a PLAYER membership, active) is checked
    already, by the route's ``MemberEntryWriter``. Here: clinical fields from a caller who
    is not MEDICAL staff -> 403, nothing stored; the date and session rules -> 422 naming
    the field under ``where`` (``("body",)``; another request shape passes its own). An
    athlete recording their own problem raises ``HEALTH_PROBLEM_REPORTED`` for staff.
    """
    clinical = {
        "diagnosis": diagnosis,
        "osiics_code": osiics_code,
        "clinical_notes": clinical_notes,
    }
    _refuse_clinical(access, [name for name, value in clinical.items() if value is not None])
    local_today = today(team_zone(access.team))
    given = {"onset_date", "expected_return", "session_id"}
    dates = _Dates(onset_date, expected_return, None, session_id, ())
    await _check_dates(
        db, membership.team_id, dates, changed=given, local_today=local_today, where=where
    )
    now = utcnow()
    problem = HealthProblem(
        team_id=membership.team_id,
        membership_id=membership.id,
        kind=kind,
        onset_date=onset_date,
        context=context,
        session_id=session_id,
        body_area=body_area,
        side=side,
        mechanism=mechanism,
        summary=summary,
        expected_return=expected_return,
        reported_by=access.user.id,
        created_at=now,
        updated_at=now,
        **clinical,
    )
    db.add(problem)
    await db.flush()
    stage = HealthStage(
        team_id=membership.team_id,
        problem_id=problem.id,
        from_date=onset_date,
        availability=availability,
    )
    db.add(stage)
    await db.flush()
    logger.info(
        '{"event": "health_problem_created", "problem_id": %d, "membership_id": %d}',
        problem.id,
        membership.id,
    )
    member = MemberAccess(membership, access)
    if audited:
        await _audit(db, member, AuditAction.CREATE, problem.id)
    if alert_self_report and membership.user_id == access.user.id:
        await alerts.on_health_problem_reported(db, membership, problem, availability, local_today)
    return ProblemView(problem, [stage], member)


# --- reading ---------------------------------------------------------------------------------

_STAGES = (
    select(HealthStage)
    .where(HealthStage.problem_id.in_(bindparam("ids", expanding=True)))
    .order_by(HealthStage.problem_id, HealthStage.from_date)
)


async def _stages_of(db: AsyncSession, ids: Sequence[int]) -> dict[int, list[HealthStage]]:
    """The stages of these problems, oldest first, in one statement."""
    found: dict[int, list[HealthStage]] = {problem_id: [] for problem_id in ids}
    if ids:
        for stage in await db.scalars(_STAGES, {"ids": list(ids)}):
            found[stage.problem_id].append(stage)
    return found


async def get_problem(
    db: AsyncSession, user_id: int, problem_id: int, *, write: bool
) -> ProblemView:
    """The problem if the caller may read (or write) its member's data: the athlete, or
    staff of the team. A problem of another team, or unknown, is a 404 (whether it exists
    is never revealed); a teammate gets a 403, as for the member's other data. A write
    holds the problem's row (``FOR UPDATE``) so its stages and dates change one at a time.
    A read is recorded in the audit log; a write is recorded by the change it leads to.
    """
    query = select(HealthProblem).where(HealthProblem.id == problem_id)
    if write:
        query = query.with_for_update()
    problem = await db.scalar(query)
    if problem is None:
        await teams.require_account(db, user_id)
        raise NotFound(PROBLEM_NOT_FOUND)
    try:
        member = await teams.member_access(db, user_id, problem.membership_id, write=write)
    except NotFound:
        raise NotFound(PROBLEM_NOT_FOUND) from None
    stages = await _stages_of(db, [problem.id])
    if not write:
        await _audit(db, member, AuditAction.READ, problem.id)
    return ProblemView(problem, stages[problem.id], member)


async def list_problems(
    db: AsyncSession, member: MemberAccess, *, open_only: bool, limit: int, offset: int
) -> list[ProblemView]:
    """The member's problems, newest onset first; ``open_only``: those not resolved.
    Audited: one ``read`` entry."""
    views = await problems_of(db, member, open_only=open_only, limit=limit, offset=offset)
    await _audit(db, member, AuditAction.READ, None)
    return views


async def problems_of(
    db: AsyncSession, member: MemberAccess, *, open_only: bool, limit: int, offset: int
) -> list[ProblemView]:
    """:func:`list_problems` without its audit entry, for a reader that records its own
    (the export writes one ``export`` entry, and reads in a read-only snapshot)."""
    query = select(HealthProblem).where(HealthProblem.membership_id == member.membership.id)
    if open_only:
        query = query.where(HealthProblem.resolved_on.is_(None))
    query = query.order_by(HealthProblem.onset_date.desc(), HealthProblem.id.desc())
    problems = list(await db.scalars(query.limit(limit).offset(offset)))
    stages = await _stages_of(db, [problem.id for problem in problems])
    return [ProblemView(problem, stages[problem.id], member) for problem in problems]


# --- changing --------------------------------------------------------------------------------

_CHANGEABLE = (
    "onset_date",
    "context",
    "session_id",
    "body_area",
    "side",
    "mechanism",
    "summary",
    "expected_return",
    "resolved_on",
    *CLINICAL,
)


async def update_problem(
    db: AsyncSession, view: ProblemView, changes: dict[str, Any]
) -> ProblemView:
    """Change the fields sent (``changes``: field -> new value). A new onset moves the
    first stage with it; ``availability`` corrects the first stage."""
    _refuse_clinical(view.access, changes)
    problem = view.problem
    first, later = view.stages[0], view.stages[1:]
    merged = {name: getattr(problem, name) for name in _CHANGEABLE} | changes
    dates = _Dates(
        merged["onset_date"],
        merged["expected_return"],
        merged["resolved_on"],
        merged["session_id"],
        [stage.from_date for stage in later],
    )
    local_today = today(team_zone(view.access.team))
    await _check_dates(
        db, problem.team_id, dates, changed=changes, local_today=local_today, where=("body",)
    )
    for name in _CHANGEABLE:
        if name in changes:
            setattr(problem, name, changes[name])
    first.from_date = problem.onset_date
    if "availability" in changes:
        first.availability = changes["availability"]
    if changes:
        problem.updated_at = utcnow()
        await db.flush()
    await _audit(db, view.member, AuditAction.UPDATE, problem.id)
    return view


async def record_stage(
    db: AsyncSession, view: ProblemView, start: date, availability: Availability
) -> ProblemView:
    """Staff record the problem's availability from ``start`` on; a stage on the same day
    is replaced. ``from`` before onset, after resolution or in the future -> 422."""
    if not view.access.is_staff:
        raise Forbidden(teams.NOT_STAFF)
    problem = view.problem
    field = ("body", "from")
    if start < problem.onset_date:
        raise Invalid("from cannot be before the problem's onset_date", field=field)
    if problem.resolved_on is not None and start > problem.resolved_on:
        raise Invalid("from cannot be after the problem's resolved_on", field=field)
    if start > today(team_zone(view.access.team)):
        raise Invalid("from cannot be in the future (team's time zone)", field=field)
    await upsert_one(
        db,
        HealthStage,
        {
            "team_id": problem.team_id,
            "problem_id": problem.id,
            "from_date": start,
            "availability": availability,
        },
        conflict=["problem_id", "from_date"],
        update=["availability"],
    )
    problem.updated_at = utcnow()
    await db.flush()
    await _audit(db, view.member, AuditAction.UPDATE, problem.id)
    stages = await _stages_of(db, [problem.id])
    return ProblemView(problem, stages[problem.id], view.member)


async def delete_problem(db: AsyncSession, view: ProblemView) -> None:
    """MEDICAL staff and owners delete a problem, with its stages."""
    if not (view.access.is_medical or view.access.is_owner):
        raise Forbidden("Only the team's medical staff and owners may delete a health problem")
    problem_id = view.problem.id
    await db.execute(delete(HealthStage).where(HealthStage.problem_id == problem_id))
    await db.delete(view.problem)
    await db.flush()
    await _audit(db, view.member, AuditAction.DELETE, problem_id)


# --- answering -------------------------------------------------------------------------------


def answer(view: ProblemView) -> schemas.ProblemAnswer:
    """The problem as the caller may see it: with the clinical fields for the team's
    MEDICAL staff and the athlete, without them (absent, not null) for everyone else.
    ``availability_today`` and ``days_lost`` are of today in the team's zone."""
    problem = view.problem
    local_today = today(team_zone(view.access.team))
    figures = rules.Problem(
        onset=problem.onset_date,
        resolved_on=problem.resolved_on,
        stages=[rules.Stage(stage.from_date, stage.availability) for stage in view.stages],
    )
    fields: dict[str, Any] = {
        "id": problem.id,
        "membership_id": problem.membership_id,
        "kind": problem.kind,
        "onset_date": problem.onset_date,
        "context": problem.context,
        "session_id": problem.session_id,
        "body_area": problem.body_area,
        "side": problem.side,
        "mechanism": problem.mechanism,
        "summary": problem.summary,
        "expected_return": problem.expected_return,
        "resolved_on": problem.resolved_on,
        "stages": [
            schemas.AvailabilityStage.model_validate(
                {"from": s.from_date, "availability": s.availability}
            )
            for s in view.stages
        ],
        "availability_today": rules.availability_on(figures, local_today),
        "days_lost": rules.days_lost(figures, local_today),
        "reported_by": problem.reported_by,
        "created_at": problem.created_at,
        "updated_at": problem.updated_at,
    }
    if reads_clinical(view.access, view.member.membership):
        clinical = {name: getattr(problem, name) for name in CLINICAL}
        return schemas.HealthProblemClinical(**fields, **clinical)
    return schemas.HealthProblem(**fields)
