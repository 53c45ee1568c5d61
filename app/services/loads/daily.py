"""Daily load roll-ups: each member's day totals, kept exact inside the write transaction.

A day's row holds the internal load (sum of sRPE loads), the external load (GPS), and two
counts for ACWR coverage: sessions the member attended and, of those, how many have an
sRPE. A session with an sRPE but no attendance record counts as attended: the player
rated it, so they were there.
"""

import functools
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Insert

from app.db import dialect_name, insert_for, lock_member_days, lock_team, upsert
from app.models import (
    ATTENDED,
    AcwrState,
    Attendance,
    DailyLoad,
    LoadSource,
    SessionRPE,
    Team,
    TrainingSession,
)
from app.services.platform.days import DayRange, day_of, team_zone

_TOTALS = ("internal_load_au", "attended_sessions", "rated_sessions")


def _day_totals(*, one_member: bool) -> Select[Any]:
    """Per (member, day): sRPE load sum, attended sessions, attended sessions with an sRPE.

    Built once per shape, with bound parameters: ``team_id``, and for ``one_member`` also
    ``membership_id`` and ``days`` (a list). Building the statement per call cost more
    CPU than running it.
    """
    pairs_a = select(Attendance.session_id, Attendance.membership_id).where(
        Attendance.team_id == bindparam("team_id")
    )
    pairs_r = select(SessionRPE.session_id, SessionRPE.membership_id).where(
        SessionRPE.team_id == bindparam("team_id")
    )
    if one_member:
        pairs_a = pairs_a.where(Attendance.membership_id == bindparam("membership_id"))
        pairs_r = pairs_r.where(SessionRPE.membership_id == bindparam("membership_id"))
    pairs = union(pairs_a, pairs_r).subquery()
    attended = or_(
        Attendance.status.in_(ATTENDED),
        and_(Attendance.id.is_(None), SessionRPE.id.is_not(None)),
    )
    query = (
        select(
            pairs.c.membership_id,
            TrainingSession.day,
            func.coalesce(func.sum(SessionRPE.load_au), 0),
            func.sum(case((attended, 1), else_=0)),
            func.sum(case((and_(attended, SessionRPE.id.is_not(None)), 1), else_=0)),
        )
        .select_from(pairs)
        .join(TrainingSession, TrainingSession.id == pairs.c.session_id)
        .outerjoin(
            Attendance,
            and_(
                Attendance.session_id == pairs.c.session_id,
                Attendance.membership_id == pairs.c.membership_id,
            ),
        )
        .outerjoin(
            SessionRPE,
            and_(
                SessionRPE.session_id == pairs.c.session_id,
                SessionRPE.membership_id == pairs.c.membership_id,
            ),
        )
        .group_by(pairs.c.membership_id, TrainingSession.day)
    )
    if one_member:
        query = query.where(TrainingSession.day.in_(bindparam("days", expanding=True)))
    return query


_MEMBER_DAY_TOTALS = _day_totals(one_member=True)
_TEAM_DAY_TOTALS = _day_totals(one_member=False)


async def recompute_days(
    db: AsyncSession,
    team_id: int,
    membership_id: int,
    days: Iterable[date],
    *,
    locked: bool = False,
) -> None:
    """Recompute the member's totals for each day, then mark their ACWR dirty from the first.

    Called by every write that changes a load or attendance, after the write. The
    per-(member, day) lock makes concurrent writers take turns, so each one sums what the
    others committed. ``locked``: the caller took that lock for these days in this
    transaction already (taking it again would only cost round trips).
    """
    wanted = sorted(set(days))
    if not wanted:
        return
    if not locked:
        await lock_member_days(db, team_id, membership_id, wanted)
    result = await db.execute(
        _MEMBER_DAY_TOTALS, {"team_id": team_id, "membership_id": membership_id, "days": wanted}
    )
    totals = {day: (load, attended, rated) for _, day, load, attended, rated in result.all()}
    rows = [_row(team_id, membership_id, day, *totals.get(day, (0, 0, 0))) for day in wanted]
    await _store(db, rows)
    await mark_acwr_dirty(db, team_id, membership_id, LoadSource.INTERNAL, wanted[0])


async def redate_team(db: AsyncSession, team: Team) -> None:
    """Give every session of the team its day in the team's (new) zone, then rebuild totals.

    Holds the team's lock exclusively: concurrent load writers wait, then sum afresh. The
    team's session rows are locked first, in id order: writers hold a session row and then
    ask for the team's lock (shared), so taking the team's lock first would deadlock.
    """
    held = await db.scalars(
        select(TrainingSession)
        .where(TrainingSession.team_id == team.id)
        .order_by(TrainingSession.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    team_sessions = list(held)
    await lock_team(db, team.id, exclusive=True)
    tz = team_zone(team)
    for training_session in team_sessions:
        training_session.day = day_of(training_session.start, tz)
    await db.flush()
    await rebuild_team(db, team.id)


async def rebuild_team(db: AsyncSession, team_id: int) -> None:
    """Recompute every daily total of a team from scratch, e.g. after its time zone changed."""
    stored = await db.execute(
        select(DailyLoad.membership_id, DailyLoad.date).where(DailyLoad.team_id == team_id)
    )
    fresh = {
        (member, day): (load, attended, rated)
        for member, day, load, attended, rated in (
            await db.execute(_TEAM_DAY_TOTALS, {"team_id": team_id})
        ).all()
    }
    keys = set(fresh) | {(member, day) for member, day in stored.all()}
    rows = [_row(team_id, m, d, *fresh.get((m, d), (0, 0, 0))) for m, d in sorted(keys)]
    await _store(db, rows)
    first_days: dict[int, date] = {}
    for member, day in keys:
        first_days[member] = min(day, first_days.get(member, day))
    for member, day in sorted(first_days.items()):
        await mark_acwr_dirty(db, team_id, member, LoadSource.INTERNAL, day)


def _row(
    team_id: int, membership_id: int, day: date, load: Any, attended: Any, rated: Any
) -> dict[str, Any]:
    return {
        "team_id": team_id,
        "membership_id": membership_id,
        "date": day,
        "internal_load_au": int(load or 0),
        "external_load_pl": 0.0,
        "attended_sessions": int(attended or 0),
        "rated_sessions": int(rated or 0),
    }


async def _store(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 1000):
        await upsert(
            db,
            DailyLoad,
            rows[start : start + 1000],
            conflict=["membership_id", "date"],
            update=_TOTALS,
        )


@functools.cache
def _acwr_mark(dialect: str) -> Insert:
    """The dirty mark's upsert, built once per dialect (values are execution parameters)."""
    stmt = insert_for(dialect, AcwrState.__table__)
    current = AcwrState.__table__.c.dirty_from
    earliest = case(
        (current.is_(None), stmt.excluded.dirty_from),
        (stmt.excluded.dirty_from < current, stmt.excluded.dirty_from),
        else_=current,
    )
    result: Insert = stmt.on_conflict_do_update(
        index_elements=["membership_id", "source"], set_={"dirty_from": earliest}
    )
    return result


async def mark_acwr_dirty(
    db: AsyncSession, team_id: int, membership_id: int, source: LoadSource, day: date
) -> None:
    """Record that the member's ACWR must be recomputed from ``day`` (keeping an earlier mark)."""
    await db.execute(
        _acwr_mark(dialect_name(db)),
        {"team_id": team_id, "membership_id": membership_id, "source": source, "dirty_from": day},
    )


async def internal_by_day(
    db: AsyncSession, membership_id: int, start: date, end: date
) -> dict[date, float]:
    """The member's internal load per day with one, for the weekly summaries."""
    rows = await db.execute(
        select(DailyLoad.date, DailyLoad.internal_load_au).where(
            DailyLoad.membership_id == membership_id,
            DailyLoad.date >= start,
            DailyLoad.date <= end,
        )
    )
    return {day: float(load) for day, load in rows.all()}


async def series(
    db: AsyncSession, membership_id: int, days: DayRange
) -> list[tuple[date, int, float]]:
    """One ``(date, internal, external)`` per day of the range, zeros where nothing was logged."""
    stored = {
        row.date: (row.internal_load_au, row.external_load_pl)
        for row in await db.scalars(
            select(DailyLoad).where(
                DailyLoad.membership_id == membership_id,
                DailyLoad.date >= days.start,
                DailyLoad.date <= days.end,
            )
        )
    }
    return [(day, *stored.get(day, (0, 0.0))) for day in days.days()]
