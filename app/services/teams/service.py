"""Teams, seasons and memberships, and who may see or change them."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager, joinedload

from app.errors import Conflict, Forbidden, Inactive, Invalid, NotFound, Unauthorized
from app.models import STAFF_ROLES, Role, Season, Team, TeamMembership, User
from app.schemas import teams as schemas
from app.services.accounts import service as accounts
from app.services.acwr import snapshots as acwr_snapshots
from app.services.loads import daily as loads

ACCOUNT_GONE = "This account no longer exists"
NOT_A_PLAYER = "Entries are kept for PLAYER memberships only; this membership is not one"

# Where a request names a membership (("body", "membership_id"), ("path", ...)): the field a
# 422 blames when the membership may not take new entries.
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class TeamAccess:
    """What the caller may do in one team. Admins are staff and owner of every team."""

    team: Team
    user: User
    membership: TeamMembership | None
    is_staff: bool
    is_owner: bool


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


async def team_access(session: AsyncSession, user_id: int, team_id: int) -> TeamAccess:
    """The caller's rights in a team; 404 when the team is unknown or not theirs.

    The caller's account is read in the same statement (one round trip per request fewer):
    a token whose account is gone is a 401.
    """
    params = {"user_id": user_id, "team_id": team_id}
    row = (await session.execute(_TEAM_ACCESS, params)).first()
    if row is None:
        raise Unauthorized(ACCOUNT_GONE)
    user, team, own = row
    access = None if team is None else rights(team, user, own)
    if access is None:
        raise NotFound("Team not found")
    return access


async def require_account(session: AsyncSession, user_id: int) -> None:
    """401 when the token's account is gone (for statements that found no row at all)."""
    if await session.get(User, user_id) is None:
        raise Unauthorized(ACCOUNT_GONE)


def rights(team: Team, user: User, own: TeamMembership | None) -> TeamAccess | None:
    """The caller's rights given their active membership of the team (None: no rights)."""
    if user.is_admin:
        return TeamAccess(team, user, own, is_staff=True, is_owner=True)
    if own is None:
        return None
    return TeamAccess(
        team, user, own, is_staff=own.role in STAFF_ROLES, is_owner=own.role == Role.OWNER
    )


async def require_staff(session: AsyncSession, user_id: int, team_id: int) -> TeamAccess:
    access = await team_access(session, user_id, team_id)
    if not access.is_staff:
        raise Forbidden("Only the team's coaches and owners may do this")
    return access


async def require_owner(session: AsyncSession, user_id: int, team_id: int) -> TeamAccess:
    access = await team_access(session, user_id, team_id)
    if not access.is_owner:
        raise Forbidden("Only the team's owners may do this")
    return access


async def member_access(
    session: AsyncSession,
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
    row = (await session.execute(_MEMBER_ACCESS, params)).first()
    if row is None:
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
    session: AsyncSession,
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
        membership = await session.scalar(_MEMBERSHIP_IN_TEAM, params)
        if membership is None:
            return await member_access(
                session, access.user.id, membership_id, write=write, new_entry=new_entry
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
    access = found or TeamAccess(team, user, membership, is_staff=False, is_owner=False)
    allowed = access.is_staff or (is_self and (not write or membership.role == Role.PLAYER))
    if not allowed:
        raise Forbidden("You may not access this member's data")
    if new_entry is not None and membership.role != Role.PLAYER:
        raise Invalid(NOT_A_PLAYER, field=new_entry)
    if write and not membership.active:
        raise Inactive("This membership is inactive; its data is kept but takes no new entries")
    return MemberAccess(membership, access)


async def create_team(session: AsyncSession, user: User, *, name: str, timezone: str) -> Team:
    team = Team(name=name, timezone=timezone)
    session.add(team)
    await session.flush()
    session.add(TeamMembership(team_id=team.id, user_id=user.id, role=Role.OWNER))
    await session.flush()
    return team


async def list_teams(session: AsyncSession, user: User) -> list[Team]:
    return list(await session.scalars(visible_teams(user)))


async def update_team(session: AsyncSession, team: Team, body: schemas.TeamUpdate) -> Team:
    """Apply the fields sent. A new zone moves sessions to their new local days; new ACWR
    settings recompute the team's ACWR at once, so every answer after this uses them."""
    changes = body.model_dump(exclude_unset=True, exclude={"acwr"})
    if body.acwr is not None:
        changes = changes | acwr_changes(team, body.acwr.model_dump(exclude_unset=True))
    zone_changed = "timezone" in changes and changes["timezone"] != team.timezone
    settings_changed = any(
        key.startswith("acwr_") and getattr(team, key) != value for key, value in changes.items()
    )
    for field, value in changes.items():
        setattr(team, field, value)
    await session.flush()
    if zone_changed:
        await loads.redate_team(session, team)
    if settings_changed:
        await acwr_snapshots.recompute_team(session, team)
    return team


ACWR_FIELDS = ("method", "acute_days", "chronic_days", "low", "high", "danger")


def acwr_changes(team: Team, partial: dict[str, Any]) -> dict[str, Any]:
    """Merge a partial ACWR change into the stored settings and check the result as a whole."""
    merged = {name: getattr(team, f"acwr_{name}") for name in ACWR_FIELDS} | partial

    def blame(*names: str) -> tuple[str, ...]:
        given = [name for name in names if name in partial] or [names[0]]
        return ("body", "acwr", given[0])

    if not 1 <= merged["acute_days"] < merged["chronic_days"] <= 90:
        raise Invalid(
            "Need 1 <= acute_days < chronic_days <= 90", field=blame("chronic_days", "acute_days")
        )
    if not 0 < merged["low"] < merged["high"]:
        raise Invalid("Need 0 < low < high", field=blame("high", "low"))
    if not merged["high"] <= merged["danger"]:
        raise Invalid("Need high <= danger", field=blame("danger", "high"))
    return {f"acwr_{name}": merged[name] for name in partial}


async def create_season(session: AsyncSession, team: Team, body: schemas.SeasonCreate) -> Season:
    season = Season(team_id=team.id, **body.model_dump())
    session.add(season)
    await session.flush()
    return season


async def list_seasons(session: AsyncSession, team: Team) -> list[Season]:
    rows = await session.scalars(
        select(Season).where(Season.team_id == team.id).order_by(Season.start_date)
    )
    return list(rows)


async def get_season(session: AsyncSession, team_id: int, season_id: int) -> Season:
    season = await session.get(Season, season_id)
    if season is None or season.team_id != team_id:
        raise NotFound("Season not found in this team", field=("body", "season_id"))
    return season


async def add_member(
    session: AsyncSession, access: TeamAccess, body: schemas.MemberCreate
) -> TeamMembership:
    """Add a person by email; an unknown email gets an account they claim by registering."""
    if not access.is_owner and body.role != Role.PLAYER:
        raise Forbidden("Coaches may add players only; owners add any role")
    user = await accounts.get_by_email(session, body.email)
    if user is None:
        user = User(email=accounts.normalise_email(body.email), full_name=body.full_name)
        session.add(user)
        await session.flush()
    elif await _membership_of(session, access.team.id, user.id) is not None:
        raise Conflict("This person is already a member of the team", field=("body", "email"))
    await _check_external_ref(session, access.team.id, body.external_ref, None)
    membership = TeamMembership(
        team_id=access.team.id,
        user_id=user.id,
        role=body.role,
        primary_position=body.primary_position,
        jersey_number=body.jersey_number,
        external_ref=body.external_ref,
    )
    session.add(membership)
    await session.flush()
    return await get_member(session, access.team.id, membership.id)


async def _membership_of(
    session: AsyncSession, team_id: int, user_id: int
) -> TeamMembership | None:
    return await session.scalar(
        select(TeamMembership).where(
            TeamMembership.team_id == team_id, TeamMembership.user_id == user_id
        )
    )


async def _check_external_ref(
    session: AsyncSession, team_id: int, external_ref: str | None, membership_id: int | None
) -> None:
    if external_ref is None:
        return
    other = await session.scalar(
        select(TeamMembership.id).where(
            TeamMembership.team_id == team_id,
            TeamMembership.external_ref == external_ref,
            TeamMembership.id != (membership_id or 0),
        )
    )
    if other is not None:
        raise Conflict(
            "Another member of this team already has this external_ref",
            field=("body", "external_ref"),
        )


def members_query(team_id: int) -> Select[TeamMembership]:
    return (
        select(TeamMembership)
        .options(joinedload(TeamMembership.user))
        .where(TeamMembership.team_id == team_id)
    )


async def list_members(
    session: AsyncSession, team_id: int, *, limit: int, offset: int
) -> list[TeamMembership]:
    rows = await session.scalars(
        members_query(team_id).order_by(TeamMembership.id).limit(limit).offset(offset)
    )
    return list(rows)


async def get_member(session: AsyncSession, team_id: int, membership_id: int) -> TeamMembership:
    membership = await session.scalar(
        members_query(team_id).where(TeamMembership.id == membership_id)
    )
    if membership is None:
        raise NotFound("Membership not found")
    return membership


async def update_member(
    session: AsyncSession, access: TeamAccess, membership_id: int, body: schemas.MemberUpdate
) -> TeamMembership:
    """Staff edit position, number and external_ref; only owners change role or active."""
    changes = body.model_dump(exclude_unset=True)  # the fields the client sent
    membership = await get_member(session, access.team.id, membership_id)
    if ({"role", "active"} & changes.keys()) and not access.is_owner:
        raise Forbidden("Only owners change roles or deactivate members")
    if "external_ref" in changes:
        await _check_external_ref(session, access.team.id, changes["external_ref"], membership.id)
    if membership.role == Role.OWNER and (
        changes.get("active") is False or changes.get("role", Role.OWNER) != Role.OWNER
    ):
        await _keep_an_owner(session, access.team.id, membership.id)
    for field, value in changes.items():
        setattr(membership, field, value)
    await session.flush()
    return membership


async def _keep_an_owner(session: AsyncSession, team_id: int, leaving_id: int) -> None:
    """A team must keep one active owner, or nobody could change its settings again."""
    others = await session.scalar(
        select(func.count())
        .select_from(TeamMembership)
        .where(
            TeamMembership.team_id == team_id,
            TeamMembership.role == Role.OWNER,
            TeamMembership.active.is_(True),
            TeamMembership.id != leaving_id,
        )
    )
    if not others:
        raise Conflict("A team needs at least one active owner")
