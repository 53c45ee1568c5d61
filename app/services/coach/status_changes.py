"""``status.changed`` for outbound webhooks: compare each player's roster status with the
one last stored for the team's receivers, and queue an event for each change.

Here, not in :mod:`app.services.outbound`, because the status is the roster's
(:mod:`app.services.coach.roster`): outbound delivers events and knows no coach module.
Request-scoped: it works in the caller's transaction and flushes, never commits; the job
that runs it for every team is :mod:`app.services.coach.jobs`.
"""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import OutboundMemberStatus, Team
from app.models.base import utcnow
from app.services.coach import roster
from app.services.outbound import deliveries, subscriptions

NO_DATA = "no_data"  # what a member's first status counts as a change from


async def track_statuses(db: AsyncSession, team: Team) -> int:
    """Enqueue ``status.changed`` for each player whose roster status differs from the one
    last stored, and store the new one; returns how many changed. Only runs when the team
    has a webhook subscribed to it. A member seen for the first time counts as coming from
    ``no_data`` (the contract: no change is missed, also for a newcomer red before the
    next run), so a first ``no_data`` is stored without an event."""
    hooks = await subscriptions.list_webhooks(db, team.id)
    if not any(deliveries.STATUS_CHANGED in hook.events for hook in hooks):
        return 0
    known = {
        row.membership_id: row
        for row in await db.scalars(
            select(OutboundMemberStatus).where(OutboundMemberStatus.team_id == team.id)
        )
    }
    now = utcnow()
    changed = 0
    for player in await roster.player_statuses(db, team):
        membership = player.membership
        stored = known.get(membership.id)
        if stored is None:
            stored = OutboundMemberStatus(
                membership_id=membership.id, team_id=team.id, status=NO_DATA, updated_at=now
            )
            db.add(stored)
        if stored.status == player.status:
            continue
        await deliveries.enqueue(
            db,
            team.id,
            deliveries.STATUS_CHANGED,
            {
                "membership_id": membership.id,
                "user_id": membership.user_id,
                "previous_status": stored.status,
                "status": player.status,
                "changed_at": now,
            },
        )
        stored.status = player.status
        stored.updated_at = now
        changed += 1
    await db.flush()
    return changed
