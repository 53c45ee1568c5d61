"""The reminders job, every minute: for each team with reminders on, one transaction in
which its due reminders are stored, announced (``reminder.due``) and emailed.

It owns its transactions and takes a sessionmaker: one statement reads every team's
settings, then one transaction per team (a team that fails is logged and rolled back
alone, its reminders sent on the next run). Several workers may run it at once: the unique
key of ``reminders`` lets only one of them send each reminder (:mod:`.due`).

``concurrency`` teams run at once, each on a connection of its own (the scheduler asks for
:data:`POSTGRESQL_CONCURRENCY` on PostgreSQL): a team's time is half rendering and
encrypting its emails, half waiting for the database, and the two then overlap. Teams
share no row, so their transactions never wait for each other.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.models import Team
from app.models.base import utcnow
from app.services.reminders.due import TeamReminders, remind_team

logger = logging.getLogger("loadline.reminders")

POSTGRESQL_CONCURRENCY = 3  # connections the job takes from the pool at most


async def send_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime | None = None,
    team_ids: list[int] | None = None,
    stop: Callable[[], bool] | None = None,
    concurrency: int = 1,
) -> int:
    """Send the reminders due at ``now`` (default: the present) of every team with
    reminders on (or those named), ``concurrency`` teams at once; returns how many were
    sent. ``stop``: asked before each team, so a shutting-down worker ends between teams."""
    now = now or utcnow()
    query = select(
        Team.id,
        Team.name,
        Team.timezone,
        Team.reminder_wellness_at,
        Team.reminder_srpe_after_minutes,
    ).where(
        or_(Team.reminder_wellness_at.is_not(None), Team.reminder_srpe_after_minutes.is_not(None))
    )
    if team_ids is not None:
        query = query.where(Team.id.in_(team_ids))
    async with sessionmaker() as db:
        teams = [TeamReminders(*row) for row in await db.execute(query.order_by(Team.id))]
    queue = iter(teams)

    async def drain() -> int:
        """Take the next team until none is left (or ``stop``); how many were sent."""
        sent = 0
        for team in queue:
            if stop is not None and stop():
                break
            try:
                async with sessionmaker.begin() as db:
                    sent += len(await remind_team(db, settings, team, now))
            except Exception:
                logger.exception('{"event": "reminders_team_failed", "team_id": %d}', team.id)
        return sent

    sent = sum(await asyncio.gather(*(drain() for _ in range(max(1, concurrency)))))
    if sent:
        logger.info('{"event": "reminders_sent", "count": %d}', sent)
    return sent
