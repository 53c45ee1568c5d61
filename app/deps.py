"""Authentication and permissions as ``Annotated`` dependencies.

A route that takes none of ``UserId``, ``CurrentUser``, ``MemberOf``, ``StaffOf``,
``StaffViewOf``, ``CoachingStaffOf``, ``OwnerOf``, ``MemberReader``, ``MemberWriter``,
``MemberEntryWriter``, ``SessionReader``, ``SessionCoachingStaff``, ``SessionEntryWriter`` or
``SessionAttendanceWriter`` is public.

"Staff" are a team's COACH, MEDICAL and OWNER members (they read its views and write its
athletes' data); "coaching staff" its COACH and OWNER members (they also plan sessions,
take attendance and add members), as the contract's Roles table says.
"""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.config import Settings
from app.db import Db
from app.errors import Forbidden, Unauthorized
from app.models import User
from app.schemas.base import PathId
from app.services.accounts import tokens
from app.services.teams import access as teams
from app.services.teams.access import MemberAccess, TeamAccess
from app.services.training import sessions
from app.services.training.sessions import SessionAccess

_bearer = HTTPBearer(auto_error=False, description="An access token from /auth/token.")


async def get_settings(request: Request) -> Settings:
    """``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in its
    thread pool, a thread hop on every authenticated request for one attribute read."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_settings)]


async def get_user_id(
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> int:
    """The user id of the bearer token, not yet looked up: the access dependencies below
    read the account in the same statement as the caller's rights."""
    if credentials is None:
        raise Unauthorized("Missing bearer token")
    return tokens.decode_access_token(settings, credentials.credentials)


UserId = Annotated[int, Depends(get_user_id)]


async def get_current_user(db: Db, user_id: UserId) -> User:
    user = await db.get(User, user_id)
    if user is None or not teams.signed_in(user):
        raise Unauthorized(teams.ACCOUNT_GONE)
    return user


CurrentUser = Annotated[User, Depends(get_current_user, scope="function")]


async def _admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("Only administrators may do this")
    return user


Admin = Annotated[User, Depends(_admin, scope="function")]


async def _member_of(team_id: PathId, user_id: UserId, db: Db) -> TeamAccess:
    return await teams.team_access(db, user_id, team_id)


async def _staff_of(team_id: PathId, user_id: UserId, db: Db) -> TeamAccess:
    return await teams.require_staff(db, user_id, team_id)


async def _staff_view_of(team_id: PathId, user_id: UserId, db: Db) -> TeamAccess:
    return await teams.require_staff_view(db, user_id, team_id)


async def _coaching_staff_of(team_id: PathId, user_id: UserId, db: Db) -> TeamAccess:
    return await teams.require_coaching_staff(db, user_id, team_id)


async def _owner_of(team_id: PathId, user_id: UserId, db: Db) -> TeamAccess:
    return await teams.require_owner(db, user_id, team_id)


MemberOf = Annotated[TeamAccess, Depends(_member_of, scope="function")]
StaffOf = Annotated[TeamAccess, Depends(_staff_of, scope="function")]
# StaffOf for a team-wide view that shows health data: the view is recorded in the audit log.
StaffViewOf = Annotated[TeamAccess, Depends(_staff_view_of, scope="function")]
CoachingStaffOf = Annotated[TeamAccess, Depends(_coaching_staff_of, scope="function")]
OwnerOf = Annotated[TeamAccess, Depends(_owner_of, scope="function")]


async def _member_reader(membership_id: PathId, user_id: UserId, db: Db) -> MemberAccess:
    return await teams.member_access(db, user_id, membership_id, write=False)


async def _member_writer(membership_id: PathId, user_id: UserId, db: Db) -> MemberAccess:
    return await teams.member_access(db, user_id, membership_id, write=True)


async def _member_entry_writer(membership_id: PathId, user_id: UserId, db: Db) -> MemberAccess:
    return await teams.member_access(
        db, user_id, membership_id, write=True, new_entry=("path", "membership_id")
    )


MemberReader = Annotated[MemberAccess, Depends(_member_reader, scope="function")]
# Changing or deleting what a member has; an entry writer stores a new one, which only a
# PLAYER membership takes (else 422 naming the path's membership_id).
MemberWriter = Annotated[MemberAccess, Depends(_member_writer, scope="function")]
MemberEntryWriter = Annotated[MemberAccess, Depends(_member_entry_writer, scope="function")]


async def _session_reader(session_id: PathId, user_id: UserId, db: Db) -> SessionAccess:
    return await sessions.session_access(db, user_id, session_id, coaching=False)


async def _session_coaching_staff(session_id: PathId, user_id: UserId, db: Db) -> SessionAccess:
    return await sessions.session_access(db, user_id, session_id, coaching=True)


async def _session_entry_writer(session_id: PathId, user_id: UserId, db: Db) -> SessionAccess:
    return await sessions.session_access(db, user_id, session_id, coaching=False, lock=True)


async def _session_attendance_writer(session_id: PathId, user_id: UserId, db: Db) -> SessionAccess:
    return await sessions.session_access(db, user_id, session_id, coaching=True, lock=True)


SessionReader = Annotated[SessionAccess, Depends(_session_reader, scope="function")]
# As SessionReader and SessionCoachingStaff, with the session row held FOR SHARE for the
# request: for writes whose load depends on the session's day (sRPE; attendance).
SessionEntryWriter = Annotated[SessionAccess, Depends(_session_entry_writer, scope="function")]
SessionAttendanceWriter = Annotated[
    SessionAccess, Depends(_session_attendance_writer, scope="function")
]
# Changing or deleting a session: coaching staff (coaches and owners, not MEDICAL).
SessionCoachingStaff = Annotated[SessionAccess, Depends(_session_coaching_staff, scope="function")]
