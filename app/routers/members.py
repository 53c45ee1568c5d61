"""A team's members: adding people by email (and inviting them), editing and deactivating
them."""

import builtins

from fastapi import APIRouter

from app.db import Db
from app.deps import AppSettings, CoachingStaffOf, StaffOf
from app.schemas import teams as schemas
from app.schemas.base import Limit, Offset, PathId, problem_responses
from app.services.teams import service

router = APIRouter(prefix="/teams/{team_id}/members", tags=["members"])


@router.post(
    "",
    operation_id="create_member",
    status_code=201,
    response_model=schemas.MemberCreated,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create(
    body: schemas.MemberCreate, access: CoachingStaffOf, db: Db, settings: AppSettings
) -> schemas.MemberCreated:
    """Owners add any role (MEDICAL included), coaches add players; medical staff add
    nobody.

    An email with no account gets an account without a password, and the answer an
    `invitation` (token and expiry, shown only here; emailed too when email is configured):
    registering the email with that token claims the account. A person whose account
    another team created and who has not registered yet gets an invitation as well. For a
    registered person `invitation` is null.
    """
    membership, invitation = await service.add_member(db, settings, access, body)
    member = schemas.Member.model_validate(membership)
    return schemas.MemberCreated(
        **member.model_dump(),
        invitation=None
        if invitation is None
        else schemas.Invitation(token=invitation.token, expires_at=invitation.expires_at),
    )


@router.post(
    "/{membership_id}/invitation",
    operation_id="create_invitation",
    status_code=201,
    response_model=schemas.Invitation,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_invitation(
    membership_id: PathId, access: CoachingStaffOf, db: Db, settings: AppSettings
) -> schemas.Invitation:
    """A new invitation token for a member who has not claimed their account yet, revoking
    the open one (a lost email, an expired token); emailed too when email is configured.

    Whoever may add a member of that role may: owners for any role, coaches for players.
    A member whose account is claimed -> 409.
    """
    issued = await service.reissue_invitation(db, settings, access, membership_id)
    return schemas.Invitation(token=issued.token, expires_at=issued.expires_at)


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
