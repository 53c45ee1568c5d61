"""Health problems of a member: injuries and illnesses, their availability stages.

(``app.routers.health`` is the service's own /healthz and /readyz.)
"""

import builtins

from fastapi import APIRouter, Response

from app.db import Db
from app.deps import MemberEntryWriter, MemberReader, UserId
from app.schemas import health as schemas
from app.schemas.base import Limit, Offset, PathId, problem_responses
from app.services.health import problems as service

router = APIRouter(tags=["health"])

# Which of the two answers a caller gets, documented on every route that answers a problem.
ANSWER = (
    "A HealthProblemClinical (with diagnosis, osiics_code and clinical_notes) for the team's "
    "MEDICAL staff and the athlete themselves; a HealthProblem (those fields absent) for "
    "everyone else."
)


def _answers(status: int, *errors: int) -> dict[int | str, dict[str, str]]:
    return {status: {"description": ANSWER}, **problem_responses(*errors)}


@router.post(
    "/performance/members/{membership_id}/health-problems",
    operation_id="create_health_problem",
    status_code=201,
    response_model=schemas.ProblemAnswer,
    responses=_answers(201, 401, 403, 404, 409, 422),
)
async def create_health_problem(
    body: schemas.HealthProblemCreate, member: MemberEntryWriter, db: Db
) -> schemas.ProblemAnswer:
    """Record an injury or illness of a PLAYER membership (the athlete, or staff).

    ``availability`` (default UNAVAILABLE) is its first stage, from ``onset_date``. Clinical
    fields from anyone but the team's MEDICAL staff -> 403, nothing stored. An athlete
    reporting their own problem raises a HEALTH_PROBLEM_REPORTED alert (amber) for staff.
    """
    view = await service.create_problem(
        db, member.team_access, member.membership, **body.model_dump()
    )
    return service.answer(view)


@router.get(
    "/performance/members/{membership_id}/health-problems",
    operation_id="list_health_problems",
    response_model=builtins.list[schemas.ProblemAnswer],
    responses=_answers(200, 401, 403, 404, 422),
)
async def list_health_problems(
    member: MemberReader,
    db: Db,
    status: schemas.ProblemStatus = "open",
    limit: Limit = 100,
    offset: Offset = 0,
) -> builtins.list[schemas.ProblemAnswer]:
    """The member's problems, newest onset first (the athlete, or staff)."""
    views = await service.list_problems(
        db, member, open_only=status == "open", limit=limit, offset=offset
    )
    return [service.answer(view) for view in views]


@router.get(
    "/health-problems/{problem_id}",
    operation_id="get_health_problem",
    response_model=schemas.ProblemAnswer,
    responses=_answers(200, 401, 403, 404),
)
async def get_health_problem(problem_id: PathId, user_id: UserId, db: Db) -> schemas.ProblemAnswer:
    """One problem (the athlete, or staff of the team; another team's problem is a 404)."""
    return service.answer(await service.get_problem(db, user_id, problem_id, write=False))


@router.patch(
    "/health-problems/{problem_id}",
    operation_id="update_health_problem",
    response_model=schemas.ProblemAnswer,
    responses=_answers(200, 401, 403, 404, 409, 422),
)
async def update_health_problem(
    problem_id: PathId, body: schemas.HealthProblemUpdate, user_id: UserId, db: Db
) -> schemas.ProblemAnswer:
    """Change a problem (the athlete, or staff): any field but ``kind``; ``resolved_on``
    closes it (null reopens it)."""
    view = await service.get_problem(db, user_id, problem_id, write=True)
    changed = await service.update_problem(db, view, body.model_dump(exclude_unset=True))
    return service.answer(changed)


@router.delete(
    "/health-problems/{problem_id}",
    operation_id="delete_health_problem",
    status_code=204,
    responses=problem_responses(401, 403, 404, 409),
)
async def delete_health_problem(problem_id: PathId, user_id: UserId, db: Db) -> Response:
    """Delete a problem with its stages (the team's MEDICAL staff or owners)."""
    view = await service.get_problem(db, user_id, problem_id, write=True)
    await service.delete_problem(db, view)
    return Response(status_code=204)


@router.post(
    "/health-problems/{problem_id}/stages",
    operation_id="record_health_problem_stage",
    response_model=schemas.ProblemAnswer,
    responses=_answers(200, 401, 403, 404, 409, 422),
)
async def record_health_problem_stage(
    problem_id: PathId, body: schemas.AvailabilityStageCreate, user_id: UserId, db: Db
) -> schemas.ProblemAnswer:
    """Record the availability from ``from`` on (staff); a stage on the same day is
    replaced. Answers the problem."""
    view = await service.get_problem(db, user_id, problem_id, write=True)
    changed = await service.record_stage(db, view, body.from_, body.availability)
    return service.answer(changed)
