"""The coach package's job: queue ``status.changed`` and ``availability.changed`` for
every team whose receivers want them.

It owns its transactions and takes a sessionmaker: one to find the teams with a webhook
subscribed to either, then one per team (a team that fails is logged and rolled back
alone). The scheduler runs it right after the periodic alerts, in the minute job
``acwr.dirty``, so a change follows a write, or the start of a team's day, within a minute.
"""

import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import OutboundWebhook, Team
from app.services.coach import status_changes

logger = logging.getLogger("loadline.coach")


async def track_status_changes(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    team_ids: list[int] | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Run :func:`status_changes.track_statuses` for every team (or those named) with an
    active webhook subscribed to ``status.changed`` or ``availability.changed``, one
    transaction per team; returns how many statuses and availabilities changed. ``stop``:
    asked before each team, so a shutting-down worker ends between teams."""
    async with sessionmaker() as db:
        hooks = (
            await db.execute(
                select(OutboundWebhook.team_id, OutboundWebhook.events).where(
                    OutboundWebhook.active.is_(True)
                )
            )
        ).all()
    subscribed = {team for team, events in hooks if status_changes.TRACKED.intersection(events)}
    changed = 0
    for team_id in sorted(subscribed):
        if team_ids is not None and team_id not in team_ids:
            continue
        if stop is not None and stop():
            break
        try:
            async with sessionmaker.begin() as db:
                team = await db.get(Team, team_id)
                if team is None:
                    continue
                changed += await status_changes.track_statuses(db, team)
        except Exception:
            logger.exception('{"event": "status_changes_team_failed", "team_id": %d}', team_id)
    return changed
