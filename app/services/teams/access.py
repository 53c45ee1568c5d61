"""Who may see or change what in a team: the contract's Roles table, in one place.

Every route's permission dependency (``app.deps``) and every service that checks a
member's rights comes here: the caller's rights in a team (:func:`team_access`), in one
member's data (:func:`member_access`), and the access-scoped query of teams.
"""

from dataclasses import dataclass

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager

from app.errors import Forbidden, Inactive, Invalid, NotFound, Unauthorized
from app.models import (
    COACHING_ROLES,
    STAFF_ROLES,
    AuditAction,
    AuditResource,
    Role,
    Team,
    TeamMembership,
    User,
)
from app.services.audit import service as audit

ACCOUNT_GONE = "This account no longer exists"


def signed_in(user: User | None) -> bool:
    """Whether a valid access token's account still signs in: it exists and has a password.
    An erased account has none (and no unclaimed account ever got a token), so the access
    tokens issued before an erasure stop working with it, though they have not expired."""
    return user is not None and user.password_hash is not None


NOT_A_PLAYER = "Entries are kept for PLAYER memberships only; this membership is not one"

# Where a request names a membership (("body", "membership_id"), ("path", ...)): the field a
# 422 blames when the membership may not take new entries.
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class TeamAccess:
    """What the caller may do in one team (contract, Roles).

    ``is_staff``: reads the team's views and writes its athletes' data (COACH, MEDICAL,
    OWNER); ``is_coaching_staff``: also plans sessions, takes attendance and adds players
    (COACH, OWNER); ``is_medical``: reads and writes clinical fields (MEDICAL only). Admins
    are coaching staff and owner of every team, but not medical.
    """

    team: Team
    user: User
    membership: TeamMembership | None
    is_staff: bool
    is_owner: bool
    is_coaching_staff: bool
    is_medical: bool


@dataclass(frozen=True)
class MemberAccess:
    """A membership whose data the caller may read (or write), with the caller's team rights."""

    membership: TeamMembership
    team_access: TeamAccess


def visible_teams(user: User) -> Select[Team]:
    """The access-scoped query for teams: those where the user is an active member."""
    query = select(Team)
    if not user.is_admin:
        query = query.join(TeamMembership, TeamMembership.team_id == Team.id).where(
            TeamMembership.user_id == user.id, TeamMembership.active.is_(True)
        )
    return query.order_by(Team.id)


# The two access statements run on nearly every request: built once, with bound
# parameters, so SQLAlchemy does not rebuild them (and their cache keys) each time.
# Joined beside the caller (``User``) and a ``Team``: the caller's active membership of it.
CALLER_MEMBERSHIP = (
    (TeamMembership.team_id == Team.id)
    & (TeamMembership.user_id == User.id)
    & TeamMembership.active.is_(True)
)
_TEAM_ACCESS = (
    select(User, Team, TeamMembership)
    .select_from(User)
    .outerjoin(Team, Team.id == bindparam("team_id"))
    .outerjoin(TeamMembership, CALLER_MEMBERSHIP)
    .where(User.id == bindparam("user_id"))
)
_OWN = aliased(TeamMembership)
_MEMBER_ACCESS = (
    select(User, TeamMembership, Team, _OWN)
    .select_from(User)
    .outerjoin(TeamMembership, TeamMembership.id == bindparam("membership_id"))
    .outerjoin(Team, Team.id == TeamMembership.team_id)
    .options(contains_eager(TeamMembership.team))
    .outerjoin(_OWN, (_OWN.team_id == Team.id) & (_OWN.user_id == User.id) & _OWN.active.is_(True))
    .where(User.id == bindparam("user_id"))
)


async def team_access(db: AsyncSession, user_id: int, team_id: int) -> TeamAccess:
    """The caller's rights in a team; 404 when the team is unknown or not theirs.

    The caller's account is read in the same statement (one round trip per request fewer):
    a token whose account is gone is a 401.
    """
    params = {"user_id": user_id, "team_id": team_id}
    row = (await db.execute(_TEAM_ACCESS, params)).first()
    if row is None or not signed_in(row[0]):
        raise Unauthorized(ACCOUNT_GONE)
    user, team, own = row
    access = None if team is None else rights(team, user, own)
    if access is None:
        raise NotFound("Team not found")
    return access


async def require_account(db: AsyncSession, user_id: int) -> None:
    """401 when the token's account is gone (for statements that found no row at all)."""
    if not signed_in(await db.get(User, user_id)):
        raise Unauthorized(ACCOUNT_GONE)


def rights(team: Team, user: User, own: TeamMembership | None) -> TeamAccess | None:
    """The caller's rights given their active membership of the team (None: no rights)."""
    medical = own is not None and own.role == Role.MEDICAL
    if user.is_admin:
        return TeamAccess(
            team,
            user,
            own,
            is_staff=True,
            is_owner=True,
            is_coaching_staff=True,
            is_medical=medical,
        )
    if own is None:
        return None
    return TeamAccess(
        team,
        user,
        own,
        is_staff=own.role in STAFF_ROLES,
        is_owner=own.role == Role.OWNER,
        is_coaching_staff=own.role in COACHING_ROLES,
        is_medical=medical,
    )


NOT_STAFF = "Only the team's staff (coaches, medical staff and owners) may do this"
NOT_COACHING_STAFF = "Only the team's coaches and owners may do this"


async def require_staff(db: AsyncSession, user_id: int, team_id: int) -> TeamAccess:
    access = await team_access(db, user_id, team_id)
    if not access.is_staff:
        raise Forbidden(NOT_STAFF)
    return access


async def require_staff_view(db: AsyncSession, user_id: int, team_id: int) -> TeamAccess:
    """:func:`require_staff` for a team-wide view that shows health data (roster,
    dashboard, alerts, reports, the health report): it also appends the view's audit entry
    (``team_view``, no membership), in the request's transaction, so a view that fails is
    not recorded and a view whose entry cannot be stored fails."""
    access = await require_staff(db, user_id, team_id)
    await audit.record(
        db,
        actor_user_id=user_id,
        action=AuditAction.READ,
        resource=AuditResource.TEAM_VIEW,
        team_id=access.team.id,
    )
    return access


async def record_series_read(
    db: AsyncSession, member: MemberAccess, resource: AuditResource
) -> None:
    """The audit entry of a read of a member's wellness or HRV series, unless the reader is
    the athlete: the contract records reads "by someone other than the athlete"."""
    if member.membership.user_id == member.team_access.user.id:
        return
    await record_member_access(db, member, AuditAction.READ, resource)


async def record_member_access(
    db: AsyncSession,
    member: MemberAccess,
    action: AuditAction,
    resource: AuditResource,
    resource_id: int | None = None,
) -> None:
    """The audit entry of the caller's access to the member's ``resource``."""
    await audit.record(
        db,
        actor_user_id=member.team_access.user.id,
        action=action,
        resource=resource,
        team_id=member.membership.team_id,
        membership_id=member.membership.id,
        resource_id=resource_id,
    )


async def require_coaching_staff(db: AsyncSession, user_id: int, team_id: int) -> TeamAccess:
    """Sessions, attendance, seasons and adding members: coaches and owners, not MEDICAL."""
    access = await team_access(db, user_id, team_id)
    if not access.is_coaching_staff:
        raise Forbidden(NOT_COACHING_STAFF)
    return access


async def require_owner(db: AsyncSession, user_id: int, team_id: int) -> TeamAccess:
    access = await team_access(db, user_id, team_id)
    if not access.is_owner:
        raise Forbidden("Only the team's owners may do this")
    return access


async def member_access(
    db: AsyncSession,
    user_id: int,
    membership_id: int,
    *,
    write: bool,
    new_entry: Loc | None = None,
) -> MemberAccess:
    """Who may read or write one member's data, as the contract's Roles table says.

    Read: the member's own user, or staff of the team. Write: the member's own user when
    the membership is a PLAYER one, or staff. A write for an inactive membership is a 409.
    ``new_entry``: the request stores an entry (wellness, sRPE, HRV, a device) for the
    member, which only a PLAYER membership takes; else a 422 naming that field (a coach's
    own COACH membership gets no loads). The caller's account comes in the same
    statement, as in :func:`team_access`.
    """
    params = {"user_id": user_id, "membership_id": membership_id}
    row = (await db.execute(_MEMBER_ACCESS, params)).first()
    if row is None or not signed_in(row[0]):
        raise Unauthorized(ACCOUNT_GONE)
    user, membership, team, caller = row
    if membership is None:
        raise NotFound("Membership not found")
    found = rights(team, user, caller)
    return _member_rules(membership, team, user, found, write=write, new_entry=new_entry)


_MEMBERSHIP_IN_TEAM = select(TeamMembership).where(
    TeamMembership.id == bindparam("membership_id"),
    TeamMembership.team_id == bindparam("team_id"),
)


async def member_in_team(
    db: AsyncSession,
    access: TeamAccess,
    membership_id: int,
    *,
    write: bool,
    new_entry: Loc | None = None,
) -> MemberAccess:
    """:func:`member_access` for a caller whose rights in the team are already known (from
    the session's access statement): no statement when the member is the caller, one light
    read when staff name a member of the team. Any other membership goes through
    :func:`member_access`, so the answers are the same."""
    membership = access.membership
    if membership is None or membership.id != membership_id:
        params = {"membership_id": membership_id, "team_id": access.team.id}
        membership = await db.scalar(_MEMBERSHIP_IN_TEAM, params)
        if membership is None:
            return await member_access(
                db, access.user.id, membership_id, write=write, new_entry=new_entry
            )
    return _member_rules(
        membership, access.team, access.user, access, write=write, new_entry=new_entry
    )


def _member_rules(
    membership: TeamMembership,
    team: Team,
    user: User,
    found: TeamAccess | None,
    *,
    write: bool,
    new_entry: Loc | None,
) -> MemberAccess:
    """The contract's Roles table for one member's data, given the caller's team rights."""
    is_self = membership.user_id == user.id
    if is_self and write and not membership.active:
        raise Inactive("This membership is inactive; its data is kept but takes no new entries")
    if found is None and (not is_self or write):
        raise NotFound("Membership not found")
    access = found or TeamAccess(
        team,
        user,
        membership,
        is_staff=False,
        is_owner=False,
        is_coaching_staff=False,
        is_medical=False,
    )
    allowed = access.is_staff or (is_self and (not write or membership.role == Role.PLAYER))
    if not allowed:
        raise Forbidden("You may not access this member's data")
    if new_entry is not None and membership.role != Role.PLAYER:
        raise Invalid(NOT_A_PLAYER, field=new_entry)
    if write and not membership.active:
        raise Inactive("This membership is inactive; its data is kept but takes no new entries")
    return MemberAccess(membership, access)
