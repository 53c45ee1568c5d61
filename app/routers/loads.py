"""Per-member load series."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from app.db import Session
from app.deps import MemberReader
from app.schemas import performance as schemas
from app.schemas.base import problem_responses
from app.services import loads as service
from app.services import teams
from app.services.days import resolve_range

router = APIRouter(prefix="/performance/members/{membership_id}", tags=["loads"])


@router.get(
    "/daily-loads",
    operation_id="list_daily_loads",
    response_model=list[schemas.DailyLoad],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_daily_loads(
    member: MemberReader,
    session: Session,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
) -> list[schemas.DailyLoad]:
    """One entry per day of the range (at most 731 days), 0 for days without load."""
    days = resolve_range(teams.zone(member.membership.team), from_, to)
    return [
        schemas.DailyLoad(date=day, internal_load_au=internal, external_load_pl=external)
        for day, internal, external in await service.series(session, member.membership.id, days)
    ]
