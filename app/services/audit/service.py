"""Writing and reading the audit log (contract: Privacy). Who may read it is decided by the
caller's route (owners for a team's log, the athlete for their own).

What is recorded, and where: team views (roster, dashboard, alerts, reports, the health
report) in ``teams.access.require_staff_view``, the one access function of those routes;
a member's health problems in ``health.problems``, OSTRC answers in ``health.ostrc``,
wellness and HRV series read by someone other than the athlete in ``wellness.service`` and
``hrv.service``, an acknowledged alert in ``alerts.service``. One entry per request.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Invalid
from app.models import AuditAction, AuditEntry, AuditResource, TeamMembership, User
from app.models.base import utcnow
from app.services.platform import request_context
from app.services.platform.days import day_bounds


async def record(
    db: AsyncSession,
    *,
    actor_user_id: int | None,
    action: AuditAction,
    resource: AuditResource,
    team_id: int,
    membership_id: int | None = None,
    resource_id: int | None = None,
) -> None:
    """Append one entry in the caller's transaction: it is stored if and only if what it
    records is, and a request whose entry cannot be stored fails.

    One Core ``INSERT`` executed at once (not an ORM object flushed at commit), so that its
    cost is one statement and a failure surfaces here, inside the request.
    """
    await db.execute(
        insert(AuditEntry).values(
            at=utcnow(),
            actor_user_id=actor_user_id,
            action=action,
            resource=resource,
            team_id=team_id,
            membership_id=membership_id,
            resource_id=resource_id,
            request_id=request_context.request_id.get(),
        )
    )


def entries_query(
    *,
    team_id: int | None = None,
    membership_ids: Collection[int] | None = None,
    actor_user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[AuditEntry]:
    """The entries matching every filter given, oldest first (the one access-scoped query
    of the audit log: the team's view, the athlete's view and the export use it)."""
    query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
    if team_id is not None:
        query = query.where(AuditEntry.team_id == team_id)
    if membership_ids is not None:
        query = query.where(AuditEntry.membership_id.in_(list(membership_ids)))
    if actor_user_id is not None:
        query = query.where(AuditEntry.actor_user_id == actor_user_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    return query


@dataclass(frozen=True)
class Seen:
    """An entry as a reader of the log gets it: with the actor's name, which makes an
    actor id mean something to an athlete (``None`` for a job or an unknown account)."""

    entry: AuditEntry
    actor_full_name: str | None


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def _check_days(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and start > end:
        raise Invalid("'from' must not be after 'to'", field=("query", "from"))


async def _seen(db: AsyncSession, query: Select[AuditEntry], page: Page) -> list[Seen]:
    """The page of ``query`` with each actor's current name, in one statement.

    The name is read through the actor's membership of the entry's team, never from the
    account alone: once a membership is erased and moved to a placeholder, the team's log
    must not name the person who still owns the account elsewhere (an actor with no
    membership there, an administrator say, shows no name; the id stays)."""
    named = (
        query.add_columns(User.full_name)
        .outerjoin(
            TeamMembership,
            (TeamMembership.user_id == AuditEntry.actor_user_id)
            & (TeamMembership.team_id == AuditEntry.team_id),
        )
        .outerjoin(User, User.id == TeamMembership.user_id)
        .limit(page.limit)
        .offset(page.offset)
    )
    return [Seen(entry, name) for entry, name in (await db.execute(named)).all()]


async def team_log(
    db: AsyncSession,
    team_id: int,
    zone: ZoneInfo,
    *,
    membership_id: int | None,
    actor_user_id: int | None,
    start: date | None,
    end: date | None,
    page: Page,
) -> list[Seen]:
    """A team's entries (for its owners), oldest first; ``start``/``end``: days in the
    team's zone, both included."""
    _check_days(start, end)
    query = entries_query(
        team_id=team_id,
        membership_ids=None if membership_id is None else [membership_id],
        actor_user_id=actor_user_id,
        since=None if start is None else day_bounds(start, zone)[0],
        until=None if end is None else day_bounds(end, zone)[1],
    )
    return await _seen(db, query, page)


def _utc_start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


async def own_log(
    db: AsyncSession, user_id: int, *, start: date | None, end: date | None, page: Page
) -> list[Seen]:
    """The entries about any membership of the user, in every team (active or not), oldest
    first; ``start``/``end``: UTC days, both included. Never another member's entries:
    team views (``membership_id`` null) name no athlete and are not among them."""
    _check_days(start, end)
    mine = select(TeamMembership.id).where(TeamMembership.user_id == user_id)
    query = entries_query(
        since=None if start is None else _utc_start(start),
        until=None if end is None else _utc_start(end + timedelta(days=1)),
    ).where(AuditEntry.membership_id.in_(mine))
    return await _seen(db, query, page)
