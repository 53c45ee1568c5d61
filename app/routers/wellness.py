"""Morning wellness check-ins."""

import builtins

from fastapi import APIRouter, Response

from app.db import Db
from app.deps import MemberReader, UserId
from app.models import WellnessLog
from app.schemas import performance as schemas
from app.schemas.base import FromDay, Limit, Offset, ToDay, problem_responses
from app.services.platform.days import resolve_range, team_zone
from app.services.teams import access as teams
from app.services.wellness import scoring, service

router = APIRouter(tags=["wellness"])


def wellness_out(log: WellnessLog, assessment: scoring.Assessment) -> schemas.Wellness:
    baseline = assessment.baseline
    return schemas.Wellness(
        id=log.id,
        membership_id=log.membership_id,
        date=log.date,
        sleep_quality=log.sleep_quality,
        mood=log.mood,
        soreness=log.soreness,
        stress=log.stress,
        fatigue=log.fatigue,
        notes=log.notes,
        total=assessment.total,
        flag=assessment.flag,
        baseline=schemas.WellnessBaseline.model_validate(baseline.as_dict()) if baseline else None,
        flag_reason=assessment.reason,
    )


@router.post(
    "/performance/wellness",
    operation_id="upsert_wellness",
    status_code=201,
    response_model=schemas.Wellness,
    responses=problem_responses(401, 403, 404, 409, 422)
    | {200: {"model": schemas.Wellness, "description": "Replaced"}},
)
async def create(
    body: schemas.WellnessCreate, user_id: UserId, db: Db, response: Response
) -> schemas.Wellness:
    """Submit the day's check-in: 201 when new, 200 when it replaces that day's entry whole."""
    member = await teams.member_access(
        db, user_id, body.membership_id, write=True, new_entry=("body", "membership_id")
    )
    log, created, assessment = await service.upsert_wellness(db, member, body)
    response.status_code = 201 if created else 200
    return wellness_out(log, assessment)


@router.get(
    "/performance/members/{membership_id}/wellness",
    operation_id="list_wellness",
    response_model=builtins.list[schemas.Wellness],
    responses=problem_responses(401, 403, 404, 422),
)
async def list(
    member: MemberReader,
    db: Db,
    from_: FromDay = None,
    to: ToDay = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> builtins.list[schemas.Wellness]:
    """Days with an entry only.

    ``to`` defaults to (and is capped at) today in the team's zone, ``from`` to 27 days before.
    """
    days = resolve_range(team_zone(member.membership.team), from_, to)
    entries = await service.read_wellness(db, member, days, limit=limit, offset=offset)
    return [wellness_out(log, assessment) for log, assessment in entries]
