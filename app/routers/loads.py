"""Per-member load series: daily loads, ACWR and weekly load summaries."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic_core import to_json

from app.db import Db
from app.deps import MemberReader
from app.models import LoadSource
from app.schemas import performance as schemas
from app.schemas.base import FromDay, ToDay, problem_responses
from app.schemas.teams import AcwrSettings
from app.services.acwr import reads as acwr_reads
from app.services.loads import daily as service
from app.services.loads import planned as planned_loads
from app.services.loads import summary as load_summary
from app.services.platform.days import resolve_range, team_zone

router = APIRouter(prefix="/performance/members/{membership_id}", tags=["loads"])


@router.get(
    "/daily-loads",
    operation_id="list_daily_loads",
    response_model=list[schemas.DailyLoad],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_daily_loads(
    member: MemberReader, db: Db, from_: FromDay = None, to: ToDay = None
) -> list[schemas.DailyLoad]:
    """One entry per day of the range (at most 731 days), 0 for days without load."""
    days = resolve_range(team_zone(member.membership.team), from_, to)
    return [
        schemas.DailyLoad(date=day, internal_load_au=internal, external_load_pl=external)
        for day, internal, external in await service.series(db, member.membership.id, days)
    ]


@router.get(
    "/acwr",
    operation_id="get_acwr",
    response_model=None,
    responses=problem_responses(401, 403, 404, 422)
    | {200: {"model": schemas.Acwr, "description": "One point per day of the range"}},
)
async def get_acwr(
    member: MemberReader,
    db: Db,
    from_: FromDay = None,
    to: ToDay = None,
    source: Annotated[LoadSource, Query(description="INTERNAL (sRPE) or EXTERNAL (GPS).")] = (
        LoadSource.INTERNAL
    ),
) -> Response:
    """EWMA acute:chronic workload ratio, one point per day; reflects every committed write.

    Zones describe load spikes; they are not injury predictions.
    """
    team = member.membership.team
    days = resolve_range(team_zone(team), from_, to)
    found = await acwr_reads.series(db, team, member.membership.id, source, days)
    # Serialised straight from the computed values (the schema above documents them): a
    # year of points is the hot read of dashboards, and validating 365 points again costs
    # more than computing them.
    answer = {
        "membership_id": member.membership.id,
        "source": source.value,
        "settings": AcwrSettings.of(team).model_dump(mode="json"),
        "points": found.points(),
    }
    return Response(to_json(answer), media_type="application/json")


@router.get(
    "/load-summary",
    operation_id="list_load_summary",
    response_model=list[schemas.LoadWeek],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_load_summary(
    member: MemberReader, db: Db, from_: FromDay = None, to: ToDay = None
) -> list[schemas.LoadWeek]:
    """Weekly total, mean, sample SD, monotony and strain (Foster 1998) of internal load.

    The range is widened to whole ISO weeks (Monday first); rest days count as 0;
    change_pct compares with the calendar week before, even outside the range. planned_au
    is the week's planned load (planned RPE x minutes) of the team sessions the member was
    not marked absent or excused for, to set beside total_au.
    """
    membership = member.membership
    days = resolve_range(team_zone(membership.team), from_, to)
    first, last = load_summary.loads_needed(days.start, days.end)
    daily = await service.internal_by_day(db, membership.id, first, last)
    planned = await planned_loads.member_by_day(
        db,
        membership.team_id,
        membership.id,
        *load_summary.widen_to_iso_weeks(days.start, days.end),
    )
    weeks = load_summary.weekly_summary(daily, days.start, days.end, planned)
    return [schemas.LoadWeek.model_validate(week) for week in weeks]
