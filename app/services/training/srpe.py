"""Session-RPE: a member's internal load for one session (Foster's sRPE method)."""

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import lock_member_days, upsert_one
from app.errors import Conflict, Invalid, NotFound
from app.models import AttendanceStatus, SessionRPE, TrainingSession
from app.models.base import utcnow
from app.models.performance import load_au_of
from app.schemas.performance import RpeSummary
from app.services.loads import daily as loads
from app.services.teams.access import MemberAccess
from app.services.training import sessions
from app.services.training.sessions import SessionAccess

MAX_DURATION_MIN = 600


def load_au(rpe_0_10: float, duration_min: int) -> int:
    """``round(rpe x minutes)`` with halves rounded up (the session plan's rule too)."""
    return load_au_of(rpe_0_10, duration_min)


async def upsert_srpe(
    db: AsyncSession,
    access: SessionAccess,
    member: MemberAccess,
    *,
    rpe_0_10: float,
    duration_min: int | None,
) -> tuple[SessionRPE, bool]:
    """Record or replace the member's sRPE for the session and update that day's load."""
    training_session = access.training_session
    membership = member.membership
    if membership.team_id != training_session.team_id:
        raise Invalid("Not a member of this session's team", field=("body", "membership_id"))
    await sessions.lock_for_write(db, access)
    if training_session.start > utcnow():
        raise Conflict("This session has not started yet")
    await lock_member_days(db, membership.team_id, membership.id, [training_session.day])
    attendance = await sessions.attendance_of(db, training_session.id, membership.id)
    if attendance is not None and attendance.status == AttendanceStatus.ABSENT:
        raise Conflict("This member is marked ABSENT for the session")
    if duration_min is None:
        duration_min = _default_duration(
            training_session, attendance.minutes_participated if attendance else 0
        )
    stored, created = await upsert_one(
        db,
        SessionRPE,
        {
            "team_id": training_session.team_id,
            "session_id": training_session.id,
            "membership_id": membership.id,
            "rpe_0_10": Decimal(str(rpe_0_10)),
            "duration_min": duration_min,
            "load_au": load_au(rpe_0_10, duration_min),
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
        conflict=["session_id", "membership_id"],
        update=["rpe_0_10", "duration_min", "load_au", "updated_at"],
    )
    await loads.recompute_days(
        db, training_session.team_id, membership.id, [training_session.day], locked=True
    )
    return stored, created


def _default_duration(training_session: TrainingSession, minutes_participated: int) -> int:
    if minutes_participated > 0:
        return min(minutes_participated, MAX_DURATION_MIN)
    return max(1, min(training_session.duration_min, MAX_DURATION_MIN))


async def list_srpe(
    db: AsyncSession, access: SessionAccess, *, limit: int, offset: int
) -> list[SessionRPE]:
    """Staff see every member's sRPE for the session; a player sees only their own."""
    query = select(SessionRPE).where(SessionRPE.session_id == access.training_session.id)
    if not access.team_access.is_staff:
        own = access.team_access.membership
        query = query.where(SessionRPE.membership_id == (own.id if own else -1))
    query = query.order_by(SessionRPE.membership_id).limit(limit).offset(offset)
    return list(await db.scalars(query))


async def delete_srpe(db: AsyncSession, access: SessionAccess, member: MemberAccess) -> None:
    """Remove the member's sRPE and that day's share of their load.

    The day's lock comes before the row is touched, as in :func:`upsert_srpe` (the order
    is written down in :mod:`app.db`): deleting first held the row while waiting for the
    lock that a concurrent write held while waiting for the row (a deadlock, 503s).
    """
    training_session = access.training_session
    membership = member.membership
    await sessions.lock_for_write(db, access)
    await lock_member_days(db, membership.team_id, membership.id, [training_session.day])
    stored = await db.scalar(
        select(SessionRPE).where(
            SessionRPE.session_id == training_session.id,
            SessionRPE.membership_id == membership.id,
        )
    )
    if stored is None:
        raise NotFound("No sRPE recorded for this member and session")
    await db.delete(stored)
    await db.flush()
    await loads.recompute_days(
        db, training_session.team_id, membership.id, [training_session.day], locked=True
    )


def summarise(rpes: Sequence[Decimal], planned_rpe: Decimal | None) -> RpeSummary:
    """n, mean, sample SD (n - 1) of the session's RPEs and the mean minus the plan.

    In exact fractions, so 6.15 - 5.5 answers 0.65 rather than a float's 0.6500000000000004.
    """
    n = len(rpes)
    if n == 0:
        return RpeSummary(n=0, mean_rpe=None, sd_rpe=None, mean_difference=None)
    values = [Fraction(value) for value in rpes]
    mean = sum(values, Fraction(0)) / n
    sd = None
    if n >= 2:
        sd = math.sqrt(sum(((value - mean) ** 2 for value in values), Fraction(0)) / (n - 1))
    difference = None if planned_rpe is None else float(mean - Fraction(planned_rpe))
    return RpeSummary(n=n, mean_rpe=float(mean), sd_rpe=sd, mean_difference=difference)


async def rpe_summary(db: AsyncSession, training_session: TrainingSession) -> RpeSummary:
    """The session's :func:`summarise` over every member's sRPE (one statement)."""
    rpes = await db.scalars(
        select(SessionRPE.rpe_0_10).where(SessionRPE.session_id == training_session.id)
    )
    return summarise(list(rpes), training_session.planned_rpe)
