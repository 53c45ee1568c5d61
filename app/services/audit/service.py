"""Writing and reading the audit log (contract: Privacy). Who may read it is decided by the
caller's route (owners for a team's log, the athlete for their own)."""

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Select, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditAction, AuditEntry, AuditResource
from app.models.base import utcnow
from app.services.platform import request_context


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
