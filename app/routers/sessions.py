"""Training sessions and their attendance."""

import builtins
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from app.db import Db
from app.deps import (
    CurrentUser,
    SessionAttendanceWriter,
    SessionCoachingStaff,
    SessionReader,
    UserId,
)
from app.schemas import performance as schemas
from app.schemas.base import MAX_ID, FromDay, Limit, Offset, ToDay, problem_responses
from app.services.teams import access as teams
from app.services.training import sessions as service
from app.services.training import srpe

router = APIRouter(prefix="/performance/sessions", tags=["sessions"])


@router.post(
    "",
    operation_id="create_session",
    status_code=201,
    response_model=schemas.Session,
    responses=problem_responses(401, 403, 404, 422),
)
async def create(body: schemas.SessionCreate, user_id: UserId, db: Db) -> schemas.Session:
    """Plan a session (coaches and owners of ``team_id``). Its day is the local date of
    ``start``."""
    access = await teams.require_coaching_staff(db, user_id, body.team_id)
    created = await service.create(db, access, body)
    return schemas.Session.model_validate(created)


@router.get(
    "",
    operation_id="list_sessions",
    response_model=builtins.list[schemas.Session],
    responses=problem_responses(401, 404, 422),
)
async def list(
    user: CurrentUser,
    db: Db,
    team_id: Annotated[
        int | None, Query(ge=-MAX_ID, le=MAX_ID, description="Only this team's sessions.")
    ] = None,
    from_: FromDay = None,
    to: ToDay = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> builtins.list[schemas.Session]:
    """Sessions of the caller's teams, by start time; days are in each team's zone. A
    ``team_id`` the caller is not an active member of is a 404, as for the team itself."""
    found = await service.list_sessions(
        db, user, team_id=team_id, start=from_, end=to, limit=limit, offset=offset
    )
    return [schemas.Session.model_validate(s) for s in found]


@router.get(
    "/{session_id}",
    operation_id="get_session",
    response_model=schemas.SessionDetail,
    responses=problem_responses(401, 404),
)
async def get(access: SessionReader, db: Db) -> schemas.SessionDetail:
    """The session; for the team's staff with ``rpe_summary``, how hard the players found it
    against the plan (null for players: it is made of their teammates' ratings)."""
    training_session = access.training_session
    summary = None
    if access.team_access.is_staff:
        summary = await srpe.rpe_summary(db, training_session)
    session = schemas.Session.model_validate(training_session)
    return schemas.SessionDetail(**session.model_dump(), rpe_summary=summary)


@router.patch(
    "/{session_id}",
    operation_id="update_session",
    response_model=schemas.Session,
    responses=problem_responses(401, 403, 404, 422),
)
async def update(
    body: schemas.SessionUpdate, access: SessionCoachingStaff, db: Db
) -> schemas.Session:
    """Change a session. A new start on another day moves its members' loads to that day."""
    updated = await service.update(db, access, body)
    return schemas.Session.model_validate(updated)


@router.delete(
    "/{session_id}",
    operation_id="delete_session",
    status_code=204,
    responses=problem_responses(401, 403, 404),
)
async def delete(access: SessionCoachingStaff, db: Db) -> Response:
    """Delete a session with its attendance and sRPE; its loads leave the daily totals."""
    await service.delete(db, access)
    return Response(status_code=204)


@router.post(
    "/{session_id}/attendance",
    operation_id="record_attendance",
    response_model=builtins.list[schemas.Attendance],
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def record_attendance(
    body: Annotated[builtins.list[schemas.AttendanceCreate], Body(max_length=500)],
    access: SessionAttendanceWriter,
    db: Db,
) -> builtins.list[schemas.Attendance]:
    """Bulk upsert, one row per member (the last entry wins). Answers the full list."""
    rows = await service.record_attendance(db, access, body)
    return [schemas.Attendance.model_validate(r) for r in rows]


@router.get(
    "/{session_id}/attendance",
    operation_id="list_attendance",
    response_model=builtins.list[schemas.Attendance],
    responses=problem_responses(401, 404),
)
async def list_attendance(access: SessionReader, db: Db) -> builtins.list[schemas.Attendance]:
    rows = await service.list_attendance(db, access.training_session.id)
    return [schemas.Attendance.model_validate(r) for r in rows]
