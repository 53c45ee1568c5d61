"""Session-RPE for one session."""

import builtins

from fastapi import APIRouter, Response

from app.db import Db
from app.deps import MemberWriter, SessionEntryWriter, SessionReader
from app.schemas import performance as schemas
from app.schemas.base import Limit, Offset, problem_responses
from app.services.teams import access as teams
from app.services.training import srpe as service

router = APIRouter(prefix="/performance/sessions/{session_id}/srpe", tags=["srpe"])


@router.post(
    "",
    operation_id="upsert_srpe",
    status_code=201,
    response_model=schemas.SRPE,
    responses=problem_responses(401, 403, 404, 409, 422)
    | {200: {"model": schemas.SRPE, "description": "Updated"}},
)
async def create(
    body: schemas.SRPECreate,
    access: SessionEntryWriter,
    db: Db,
    response: Response,
) -> schemas.SRPE:
    """Record a member's RPE for the session: 201 when new, 200 when it replaces theirs."""
    member = await teams.member_in_team(
        db,
        access.team_access,
        body.membership_id,
        write=True,
        new_entry=("body", "membership_id"),
    )
    stored, created = await service.upsert_srpe(
        db, access, member, rpe_0_10=body.rpe_0_10, duration_min=body.duration_min
    )
    response.status_code = 201 if created else 200
    return schemas.SRPE.model_validate(stored)


@router.get(
    "",
    operation_id="list_srpe",
    response_model=builtins.list[schemas.SRPE],
    responses=problem_responses(401, 404, 422),
)
async def list(
    access: SessionReader, db: Db, limit: Limit = 100, offset: Offset = 0
) -> builtins.list[schemas.SRPE]:
    """Staff see every member's sRPE; a player sees only their own."""
    rows = await service.list_srpe(db, access, limit=limit, offset=offset)
    return [schemas.SRPE.model_validate(r) for r in rows]


@router.delete(
    "/{membership_id}",
    operation_id="delete_srpe",
    status_code=204,
    responses=problem_responses(401, 403, 404, 409),
)
async def delete(access: SessionEntryWriter, member: MemberWriter, db: Db) -> Response:
    await service.delete_srpe(db, access, member)
    return Response(status_code=204)
