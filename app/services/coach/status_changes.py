"""``status.changed`` and ``availability.changed`` for outbound webhooks: compare each
player's roster status and availability of today with the ones last stored for the team's
receivers, and queue an event for each change.

Here, not in :mod:`app.services.outbound`, because both are the roster's
(:mod:`app.services.coach.roster`): outbound delivers events and knows no coach module.
Availability is derived from the problems' stages on each look, so a change is noticed
whatever caused it: a stage recorded, a problem resolved, or a new day that begins a stage
recorded in advance (no write happens then). Request-scoped: it works in the caller's
transaction and flushes, never commits; the job that runs it every minute for every team
is :mod:`app.services.coach.jobs`.
"""

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import OutboundMemberStatus, Team
from app.models.base import utcnow
from app.services.coach import roster
from app.services.outbound import deliveries, subscriptions
from app.services.platform.days import team_zone, today

NO_DATA = "no_data"  # what a member's first status counts as a change from
AVAILABLE = "available"  # what a member's first availability counts as a change from
TRACKED = frozenset({deliveries.STATUS_CHANGED, deliveries.AVAILABILITY_CHANGED})


async def track_statuses(db: AsyncSession, team: Team) -> int:
    """Enqueue ``status.changed`` for each player whose roster status differs from the one
    last stored, and ``availability.changed`` for each whose availability of today does,
    and store the new ones; returns how many changed. Each is compared only while the team
    has a webhook subscribed to it (so a receiver subscribing later starts from the
    defaults). A member seen for the first time counts as coming from ``no_data`` and
    ``available`` (the contract: no change is missed, also for a newcomer red or
    unavailable before the next run), so a first ``no_data`` or ``available`` is stored
    without an event."""
    hooks = await subscriptions.list_webhooks(db, team.id)
    wanted = {event for hook in hooks for event in hook.events} & TRACKED
    if not wanted:
        return 0
    known = {
        row.membership_id: row
        for row in await db.scalars(
            select(OutboundMemberStatus).where(OutboundMemberStatus.team_id == team.id)
        )
    }
    now = utcnow()
    day = today(team_zone(team))
    changed = 0
    for player in await roster.player_statuses(db, team, day):
        membership = player.membership
        stored = known.get(membership.id)
        if stored is None:
            stored = OutboundMemberStatus(
                membership_id=membership.id,
                team_id=team.id,
                status=NO_DATA,
                availability=AVAILABLE,
                updated_at=now,
            )
            db.add(stored)
        if deliveries.STATUS_CHANGED in wanted and stored.status != player.status:
            await _status_changed(db, team, stored, player, now)
            changed += 1
        if deliveries.AVAILABILITY_CHANGED in wanted and stored.availability != player.availability:
            await _availability_changed(db, team, stored, player, day, now)
            changed += 1
    await db.flush()
    return changed


async def _status_changed(
    db: AsyncSession,
    team: Team,
    stored: OutboundMemberStatus,
    player: roster.PlayerStatus,
    now: datetime,
) -> None:
    await deliveries.enqueue(
        db,
        team.id,
        deliveries.STATUS_CHANGED,
        {
            "membership_id": player.membership.id,
            "user_id": player.membership.user_id,
            "previous_status": stored.status,
            "status": player.status,
            "reasons": [reason.as_dict() for reason in player.reasons],
            "changed_at": now,
        },
    )
    stored.status = player.status
    stored.updated_at = now


async def _availability_changed(
    db: AsyncSession,
    team: Team,
    stored: OutboundMemberStatus,
    player: roster.PlayerStatus,
    day: date,
    now: datetime,
) -> None:
    """The payload names the levels and the day only: no summary, no clinical field."""
    await deliveries.enqueue(
        db,
        team.id,
        deliveries.AVAILABILITY_CHANGED,
        {
            "membership_id": player.membership.id,
            "previous": stored.availability,
            "availability": player.availability,
            "date": day,
        },
    )
    stored.availability = player.availability
    stored.updated_at = now
