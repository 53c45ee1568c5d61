"""Teams, their seasons and members: creating and changing them (who may: ``access``)."""

from datetime import time
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.config import Settings
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import Role, Season, Team, TeamMembership, User
from app.schemas import teams as schemas
from app.services.accounts import invitations
from app.services.accounts import service as accounts
from app.services.acwr import engine as acwr_engine
from app.services.loads import daily as loads
from app.services.teams.access import NOT_COACHING_STAFF, TeamAccess, visible_teams


async def create_team(db: AsyncSession, user: User, *, name: str, timezone: str) -> Team:
    team = Team(name=name, timezone=timezone)
    db.add(team)
    await db.flush()
    db.add(TeamMembership(team_id=team.id, user_id=user.id, role=Role.OWNER))
    await db.flush()
    return team


async def list_teams(db: AsyncSession, user: User) -> list[Team]:
    return list(await db.scalars(visible_teams(user)))


async def update_team(db: AsyncSession, team: Team, body: schemas.TeamUpdate) -> Team:
    """Apply the fields sent. A new zone moves sessions to their new local days; new ACWR
    settings recompute the team's ACWR at once, so every answer after this uses them."""
    changes = body.model_dump(exclude_unset=True, exclude={"acwr", "reminders"})
    if body.acwr is not None:
        changes = changes | acwr_changes(team, body.acwr.model_dump(exclude_unset=True))
    if body.reminders is not None:
        changes = changes | reminder_changes(body.reminders.model_dump(exclude_unset=True))
    zone_changed = "timezone" in changes and changes["timezone"] != team.timezone
    settings_changed = any(
        key.startswith("acwr_") and getattr(team, key) != value for key, value in changes.items()
    )
    for field, value in changes.items():
        setattr(team, field, value)
    await db.flush()
    if zone_changed:
        await loads.redate_team(db, team)
    if settings_changed:
        await acwr_engine.recompute_team(db, team)
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


def reminder_changes(partial: dict[str, Any]) -> dict[str, Any]:
    """The columns of a partial reminders change (validated by the schema: HH:MM, minutes)."""
    changes: dict[str, Any] = {}
    if "wellness_at" in partial:
        at = partial["wellness_at"]
        changes["reminder_wellness_at"] = None if at is None else time.fromisoformat(at)
    if "srpe_after_minutes" in partial:
        changes["reminder_srpe_after_minutes"] = partial["srpe_after_minutes"]
    return changes


async def create_season(db: AsyncSession, team: Team, body: schemas.SeasonCreate) -> Season:
    season = Season(team_id=team.id, **body.model_dump())
    db.add(season)
    await db.flush()
    return season


async def list_seasons(db: AsyncSession, team: Team) -> list[Season]:
    rows = await db.scalars(
        select(Season).where(Season.team_id == team.id).order_by(Season.start_date)
    )
    return list(rows)


async def get_season(db: AsyncSession, team_id: int, season_id: int) -> Season:
    season = await db.get(Season, season_id)
    if season is None or season.team_id != team_id:
        raise NotFound("Season not found in this team", field=("body", "season_id"))
    return season


async def add_member(
    db: AsyncSession, settings: Settings, access: TeamAccess, body: schemas.MemberCreate
) -> tuple[TeamMembership, invitations.Issued | None]:
    """Add a person by email; with the invitation when their account is not claimed yet.

    Owners add any role (MEDICAL included), coaches add players, medical staff nobody.
    An unknown email gets an account without a password, which only the invitation's token
    claims. An account another team created that nobody claimed yet is refused (409): the
    token is shown to the staff who add the email, so claiming it with this team's token
    would hand the other team's membership (a MEDICAL one, say) to whoever holds it."""
    _may_add(access, body.role)
    user = await accounts.get_by_email(db, body.email)
    if user is None:
        user = User(email=accounts.normalise_email(body.email), full_name=body.full_name)
        db.add(user)
        await db.flush()
    elif await _membership_of(db, access.team.id, user.id) is not None:
        raise Conflict("This person is already a member of the team", field=("body", "email"))
    elif not user.is_claimed and await _invited_elsewhere(db, user.id, access.team.id):
        raise Conflict(INVITED_ELSEWHERE, field=("body", "email"))
    await _check_external_ref(db, access.team.id, body.external_ref, None)
    membership = TeamMembership(
        team_id=access.team.id,
        user_id=user.id,
        role=body.role,
        primary_position=body.primary_position,
        jersey_number=body.jersey_number,
        external_ref=body.external_ref,
    )
    db.add(membership)
    await db.flush()
    invitation = None
    if not user.is_claimed:
        invitation = await invitations.issue(
            db, settings, team=access.team, membership=membership, user=user, inviter=access.user
        )
    return await get_member(db, access.team.id, membership.id), invitation


def _may_add(access: TeamAccess, role: Role) -> None:
    """Who may add (or invite) a member of ``role`` (contract, Roles)."""
    if not access.is_coaching_staff:
        raise Forbidden(NOT_COACHING_STAFF)
    if not access.is_owner and role != Role.PLAYER:
        raise Forbidden("Coaches may add players only; owners add any role")


async def reissue_invitation(
    db: AsyncSession, settings: Settings, access: TeamAccess, membership_id: int
) -> invitations.Issued:
    """A new invitation token for a member whose account is not claimed yet, revoking the
    open one: whoever may add a member of that role may. 409 once the account is claimed
    (its person signs in, or resets their password)."""
    _may_add(access, Role.PLAYER)
    membership = await get_member(db, access.team.id, membership_id)
    _may_add(access, membership.role)
    if membership.user.is_claimed:
        raise Conflict("This member's account is claimed already: nothing to invite to")
    if not membership.active:
        raise Conflict("This membership is inactive: reactivate it before inviting")
    if await _invited_elsewhere(db, membership.user_id, access.team.id):
        raise Conflict(INVITED_ELSEWHERE)
    return await invitations.issue(
        db,
        settings,
        team=access.team,
        membership=membership,
        user=membership.user,
        inviter=access.user,
    )


INVITED_ELSEWHERE = (
    "Another team has invited this email and the person has not registered yet: ask them "
    "to register with that invitation first, then add them"
)


async def _invited_elsewhere(db: AsyncSession, user_id: int, team_id: int) -> bool:
    """Whether the (unclaimed) account has a membership in another team."""
    other = await db.scalar(
        select(TeamMembership.id)
        .where(TeamMembership.user_id == user_id, TeamMembership.team_id != team_id)
        .limit(1)
    )
    return other is not None


async def _membership_of(db: AsyncSession, team_id: int, user_id: int) -> TeamMembership | None:
    return await db.scalar(
        select(TeamMembership).where(
            TeamMembership.team_id == team_id, TeamMembership.user_id == user_id
        )
    )


async def _check_external_ref(
    db: AsyncSession, team_id: int, external_ref: str | None, membership_id: int | None
) -> None:
    if external_ref is None:
        return
    other = await db.scalar(
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
    db: AsyncSession, team_id: int, *, limit: int, offset: int
) -> list[TeamMembership]:
    rows = await db.scalars(
        members_query(team_id).order_by(TeamMembership.id).limit(limit).offset(offset)
    )
    return list(rows)


async def get_member(db: AsyncSession, team_id: int, membership_id: int) -> TeamMembership:
    membership = await db.scalar(members_query(team_id).where(TeamMembership.id == membership_id))
    if membership is None:
        raise NotFound("Membership not found")
    return membership


async def update_member(
    db: AsyncSession, access: TeamAccess, membership_id: int, body: schemas.MemberUpdate
) -> TeamMembership:
    """Coaches and owners edit position, number and external_ref; only owners change role
    or active. Medical staff read the members but do not edit them."""
    if not access.is_coaching_staff:
        raise Forbidden(NOT_COACHING_STAFF)
    changes = body.model_dump(exclude_unset=True)  # the fields the client sent
    membership = await get_member(db, access.team.id, membership_id)
    if ({"role", "active"} & changes.keys()) and not access.is_owner:
        raise Forbidden("Only owners change roles or deactivate members")
    if "external_ref" in changes:
        await _check_external_ref(db, access.team.id, changes["external_ref"], membership.id)
    if membership.role == Role.OWNER and (
        changes.get("active") is False or changes.get("role", Role.OWNER) != Role.OWNER
    ):
        await _keep_an_owner(db, access.team.id, membership.id)
    for field, value in changes.items():
        setattr(membership, field, value)
    await db.flush()
    return membership


async def _keep_an_owner(db: AsyncSession, team_id: int, leaving_id: int) -> None:
    """A team must keep one active owner, or nobody could change its settings again."""
    others = await db.scalar(
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
