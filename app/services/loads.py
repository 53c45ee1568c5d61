"""Daily load roll-ups: each member's day total, kept exact inside the write transaction."""

from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import lock_member_days, upsert
from app.models import DailyLoad, SessionRPE, TrainingSession
from app.services.days import DayRange


async def recompute_days(
    session: AsyncSession, team_id: int, membership_id: int, days: Iterable[date]
) -> None:
    """Set the member's ``internal_load_au`` for each day to the sum of their sRPE loads.

    Called by every write that changes a load, after the write. The per-(member, day) lock
    makes concurrent writers take turns, so each one sums what the others committed.
    """
    wanted = sorted(set(days))
    if not wanted:
        return
    await lock_member_days(session, membership_id, wanted)
    result = await session.execute(
        select(TrainingSession.day, func.sum(SessionRPE.load_au))
        .join(TrainingSession, TrainingSession.id == SessionRPE.session_id)
        .where(SessionRPE.membership_id == membership_id, TrainingSession.day.in_(wanted))
        .group_by(TrainingSession.day)
    )
    sums = dict(result.all())
    rows = [
        {
            "team_id": team_id,
            "membership_id": membership_id,
            "date": day,
            "internal_load_au": int(sums.get(day) or 0),
            "external_load_pl": 0.0,
        }
        for day in wanted
    ]
    await session.execute(
        upsert(
            session,
            DailyLoad,
            rows,
            conflict=["membership_id", "date"],
            update=["internal_load_au"],
        )
    )


async def rebuild_team(session: AsyncSession, team_id: int) -> None:
    """Recompute every internal load of a team from its sRPE, e.g. after its time zone changed."""
    await session.execute(
        update(DailyLoad).where(DailyLoad.team_id == team_id).values(internal_load_au=0)
    )
    sums = (
        await session.execute(
            select(SessionRPE.membership_id, TrainingSession.day, func.sum(SessionRPE.load_au))
            .join(TrainingSession, TrainingSession.id == SessionRPE.session_id)
            .where(SessionRPE.team_id == team_id)
            .group_by(SessionRPE.membership_id, TrainingSession.day)
        )
    ).all()
    rows = [
        {
            "team_id": team_id,
            "membership_id": membership_id,
            "date": day,
            "internal_load_au": int(total or 0),
            "external_load_pl": 0.0,
        }
        for membership_id, day, total in sums
    ]
    if rows:
        await session.execute(
            upsert(
                session,
                DailyLoad,
                rows,
                conflict=["membership_id", "date"],
                update=["internal_load_au"],
            )
        )


async def series(
    session: AsyncSession, membership_id: int, days: DayRange
) -> list[tuple[date, int, float]]:
    """One ``(date, internal, external)`` per day of the range, zeros where nothing was logged."""
    stored = {
        row.date: (row.internal_load_au, row.external_load_pl)
        for row in await session.scalars(
            select(DailyLoad).where(
                DailyLoad.membership_id == membership_id,
                DailyLoad.date >= days.start,
                DailyLoad.date <= days.end,
            )
        )
    }
    return [(day, *stored.get(day, (0, 0.0))) for day in days.days()]
