"""Alerts of a team, for its staff: the open ones (or all), and acknowledging one."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.db import Db
from app.deps import CurrentUser, StaffViewOf
from app.schemas import alerts as schemas
from app.schemas.base import Limit, Offset, PathId, problem_responses
from app.services.alerts import service

router = APIRouter(tags=["alerts"])

Status = Annotated[
    Literal["open", "all"],
    Query(description="`open` (the default): unacknowledged alerts only; `all`: every alert."),
]


@router.get(
    "/teams/{team_id}/alerts",
    operation_id="list_alerts",
    response_model=list[schemas.Alert],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_alerts(
    access: StaffViewOf,
    db: Db,
    status: Status = "open",
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[schemas.Alert]:
    """The team's alerts, newest day first. Staff only."""
    rows = await service.list_alerts(
        db, access.team.id, open_only=status == "open", limit=limit, offset=offset
    )
    return [schemas.Alert.model_validate(row) for row in rows]


@router.post(
    "/alerts/{alert_id}/ack",
    operation_id="acknowledge_alert",
    response_model=schemas.Alert,
    responses=problem_responses(401, 403, 404, 422),
)
async def acknowledge_alert(alert_id: PathId, user: CurrentUser, db: Db) -> schemas.Alert:
    """Acknowledge an alert (staff of its team). Acknowledging again keeps the first time
    and the first user."""
    return schemas.Alert.model_validate(await service.acknowledge(db, user, alert_id))
