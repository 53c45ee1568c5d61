"""A team's members: adding people by email, editing and deactivating them."""

import builtins

from fastapi import APIRouter

from app.db import Db
from app.deps import CoachingStaffOf, StaffOf
from app.schemas import teams as schemas
from app.schemas.base import Limit, Offset, PathId, problem_responses
from app.services.teams import service

router = APIRouter(prefix="/teams/{team_id}/members", tags=["members"])


@router.post(
    "",
    operation_id="create_member",
    status_code=201,
    response_model=schemas.Member,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create(body: schemas.MemberCreate, access: CoachingStaffOf, db: Db) -> schemas.Member:
    """Owners add any role (MEDICAL included), coaches add players; medical staff add
    nobody. An unknown email gets an unclaimed account."""
    membership = await service.add_member(db, access, body)
    return schemas.Member.model_validate(membership)


@router.get(
    "",
    operation_id="list_members",
    response_model=builtins.list[schemas.Member],
    responses=problem_responses(401, 403, 404, 422),
)
async def list(
    access: StaffOf, db: Db, limit: Limit = 100, offset: Offset = 0
) -> builtins.list[schemas.Member]:
    members = await service.list_members(db, access.team.id, limit=limit, offset=offset)
    return [schemas.Member.model_validate(m) for m in members]


@router.patch(
    "/{membership_id}",
    operation_id="update_member",
    response_model=schemas.Member,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def update(
    membership_id: PathId, body: schemas.MemberUpdate, access: CoachingStaffOf, db: Db
) -> schemas.Member:
    """Coaches and owners edit position, jersey number and external_ref; owners change role
    and active."""
    membership = await service.update_member(db, access, membership_id, body)
    return schemas.Member.model_validate(membership)
