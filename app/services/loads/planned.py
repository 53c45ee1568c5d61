"""Planned load: the sum of ``planned_load_au`` of the team's sessions a member was due at.

A member is due at every session of their team unless marked ``ABSENT`` or ``EXCUSED`` for
it (a session without attendance counts: the plan was for the whole squad). Sessions without
a plan add nothing; a day without any planned session has no entry, so a week with none
answers null rather than 0. Each read is one statement, whatever the size of the team.
"""

from collections import defaultdict
from datetime import date

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Attendance, AttendanceStatus, TrainingSession

NOT_DUE = (AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED)


async def member_by_day(
    db: AsyncSession, team_id: int, membership_id: int, start: date, end: date
) -> dict[date, int]:
    """Per day of ``start``..``end`` with a planned session the member was due at, the sum of
    those sessions' planned load."""
    rows = await db.scalars(
        select(TrainingSession)
        .outerjoin(
            Attendance,
            and_(
                Attendance.session_id == TrainingSession.id,
                Attendance.membership_id == membership_id,
            ),
        )
        .where(
            TrainingSession.team_id == team_id,
            TrainingSession.day >= start,
            TrainingSession.day <= end,
            TrainingSession.planned_rpe.is_not(None),
            (Attendance.id.is_(None)) | (Attendance.status.not_in(NOT_DUE)),
        )
    )
    planned: dict[date, int] = defaultdict(int)
    for training_session in rows:
        planned[training_session.day] += training_session.planned_load_au or 0
    return dict(planned)


async def team_by_day(
    db: AsyncSession, team_id: int, members: list[int], start: date, end: date
) -> dict[int, dict[date, int]]:
    """:func:`member_by_day` for each of ``members`` at once: one statement reads the
    team's planned sessions with the members marked absent or excused for them."""
    rows = await db.execute(
        select(TrainingSession, Attendance.membership_id)
        .outerjoin(
            Attendance,
            and_(Attendance.session_id == TrainingSession.id, Attendance.status.in_(NOT_DUE)),
        )
        .where(
            TrainingSession.team_id == team_id,
            TrainingSession.day >= start,
            TrainingSession.day <= end,
            TrainingSession.planned_rpe.is_not(None),
        )
    )
    sessions: dict[int, TrainingSession] = {}
    not_due: dict[int, set[int]] = defaultdict(set)
    for training_session, absent in rows.all():
        sessions[training_session.id] = training_session
        if absent is not None:
            not_due[training_session.id].add(absent)
    planned: dict[int, dict[date, int]] = {member: {} for member in members}
    for session_id, training_session in sessions.items():
        load = training_session.planned_load_au or 0
        for member, days in planned.items():
            if member not in not_due[session_id]:
                days[training_session.day] = days.get(training_session.day, 0) + load
    return planned
