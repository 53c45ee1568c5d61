"""Session-RPE: a member's internal load for one session (Foster's sRPE method)."""

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import lock_member_days, upsert_one
from app.errors import Conflict, Invalid, NotFound
from app.models import AttendanceStatus, SessionRPE, TrainingSession
from app.models.base import utcnow
from app.services.loads import daily as loads
from app.services.teams.access import MemberAccess
from app.services.training import sessions
from app.services.training.sessions import SessionAccess

MAX_DURATION_MIN = 600


def load_au(rpe_0_10: float, duration_min: int) -> int:
    """``round(rpe x minutes)`` with halves rounded up, in decimal so 7.3 x 45 is 328.5 exactly."""
    product = Decimal(str(rpe_0_10)) * duration_min
    return int(product.quantize(Decimal(1), rounding=ROUND_HALF_UP))


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
