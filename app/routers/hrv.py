"""Heart-rate variability of one member: manual entries and the per-day series."""

from fastapi import APIRouter, Response

from app.db import Db
from app.deps import MemberEntryWriter, MemberReader
from app.errors import Invalid
from app.models import HrvSource
from app.schemas import hrv as schemas
from app.schemas.base import FromDay, ToDay, problem_responses
from app.services.hrv import service
from app.services.platform.days import resolve_range, team_zone, today

router = APIRouter(prefix="/performance/members/{membership_id}/hrv", tags=["hrv"])


@router.post(
    "",
    operation_id="upsert_hrv",
    status_code=201,
    response_model=schemas.Hrv,
    responses=problem_responses(401, 403, 404, 409, 422)
    | {200: {"model": schemas.Hrv, "description": "Replaced"}},
)
async def upsert_hrv(
    body: schemas.HrvCreate, member: MemberEntryWriter, db: Db, response: Response
) -> schemas.Hrv:
    """Enter the day's rMSSD by hand: 201 when new, 200 when it replaces that day's MANUAL
    value. A linked device's value for the same day is kept and wins in the series."""
    if body.date > today(team_zone(member.membership.team)):
        raise Invalid("date cannot be in the future (team's time zone)", field=("body", "date"))
    row, created = await service.record(
        db, member.membership, body.date, body.rmssd_ms, HrvSource.MANUAL
    )
    response.status_code = 201 if created else 200
    return schemas.Hrv.model_validate(row)


@router.get(
    "",
    operation_id="list_hrv",
    response_model=list[schemas.HrvDay],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_hrv(
    member: MemberReader, db: Db, from_: FromDay = None, to: ToDay = None
) -> list[schemas.HrvDay]:
    """One entry per day of the range (at most 731 days), nulls on days without a value.

    One value counts per day: a device's wins over MANUAL, and of two devices the most
    recently updated. rolling7 is the mean ln rMSSD of the 7 days ending on the day (3
    values at least); the baseline is the mean and sample SD of the 60 days before it (14
    values at least); flag compares the two with a band of 0.5 x SD.
    """
    days = resolve_range(team_zone(member.membership.team), from_, to)
    points = await service.read_series(db, member, days)
    return [schemas.HrvDay.model_validate(point) for point in points]
