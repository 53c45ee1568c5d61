"""Training sessions and attendance. Moving or deleting a session moves or removes its load."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, bindparam, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import lock_member_days, upsert
from app.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from app.models import Attendance, SessionRPE, Team, TeamMembership, TrainingSession, User
from app.schemas import performance as schemas
from app.services.loads import daily as loads
from app.services.platform.days import day_of, team_zone
from app.services.teams import access as teams
from app.services.teams import service as team_service
from app.services.teams.access import TeamAccess


@dataclass(frozen=True)
class SessionAccess:
    training_session: TrainingSession
    team_access: TeamAccess
    locked: bool = False  # the row is held FOR SHARE (see lock_for_write)


def visible_sessions(user: User) -> Select[TrainingSession]:
    """The access-scoped query for sessions: those of teams where the user is active."""
    query = select(TrainingSession)
    if not user.is_admin:
        query = query.join(TeamMembership, TeamMembership.team_id == TrainingSession.team_id).where(
            TeamMembership.user_id == user.id, TeamMembership.active.is_(True)
        )
    return query


# The session, the caller's account, the team and the caller's active membership in one
# statement (built once). Inner joins: a row only when both the session and the account
# exist, so ``FOR SHARE OF`` may lock the session row in the same statement.
_SESSION_ACCESS = (
    select(TrainingSession, User, Team, TeamMembership)
    .select_from(TrainingSession)
    .join(User, User.id == bindparam("user_id"))
    .join(Team, Team.id == TrainingSession.team_id)
    .outerjoin(TeamMembership, teams.CALLER_MEMBERSHIP)
    .where(TrainingSession.id == bindparam("session_id"))
)
_SESSION_ACCESS_HELD = _SESSION_ACCESS.with_for_update(
    read=True, of=TrainingSession
).execution_options(populate_existing=True)


async def session_access(
    db: AsyncSession, user_id: int, session_id: int, *, coaching: bool, lock: bool = False
) -> SessionAccess:
    """A session the caller may read (any active member) or change (``coaching``: coaches
    and owners, not MEDICAL staff); else 404/403.

    One statement reads the session with the caller's rights. ``lock``: for writes of data
    that depends on the session's day (sRPE, attendance), the row is read FOR SHARE in that
    statement rather than read twice.
    """
    query = _SESSION_ACCESS_HELD if lock else _SESSION_ACCESS
    row = (await db.execute(query, {"user_id": user_id, "session_id": session_id})).first()
    if row is None:
        await teams.require_account(db, user_id)
        raise NotFound("Session not found")
    training_session, user, team, own = row
    if not teams.signed_in(user):
        raise Unauthorized(teams.ACCOUNT_GONE)
    access = teams.rights(team, user, own)
    if access is None:
        raise NotFound("Session not found")
    if coaching and not access.is_coaching_staff:
        raise Forbidden(teams.NOT_COACHING_STAFF)
    return SessionAccess(training_session, access, locked=lock)


def _held(session_id: int, *, shared: bool) -> Select[TrainingSession]:
    """The row locked (``FOR SHARE`` or ``FOR UPDATE``) and read afresh, whatever the
    session already holds of it."""
    locked = select(TrainingSession).where(TrainingSession.id == session_id)
    return locked.with_for_update(read=shared).execution_options(populate_existing=True)


async def create(
    db: AsyncSession, access: TeamAccess, body: schemas.SessionCreate
) -> TrainingSession:
    if body.season_id is not None:
        await team_service.get_season(db, access.team.id, body.season_id)
    training_session = TrainingSession(**_in_utc(body.model_dump()))
    training_session.day = day_of(training_session.start, team_zone(access.team))
    db.add(training_session)
    await db.flush()
    return training_session


async def lock_for_write(db: AsyncSession, access: SessionAccess) -> None:
    """Hold the session row (shared) while writing data that depends on its day.

    A concurrent move or delete then waits for this write, or this write waits for it and
    sees the session's new day: a load is never summed into a day the session left.
    Nothing to do when the access was read with the lock already.
    """
    if not access.locked:
        await db.execute(_held(access.training_session.id, shared=True))


def _in_utc(fields: dict[str, Any]) -> dict[str, Any]:
    """Times are kept and answered in UTC, whatever offset the client sent; the planned RPE
    is stored as the decimal the client wrote (6.5, not the float nearest to it)."""
    stored = {
        name: value.astimezone(UTC) if name in ("start", "end") and value is not None else value
        for name, value in fields.items()
    }
    if stored.get("planned_rpe") is not None:
        stored["planned_rpe"] = Decimal(str(stored["planned_rpe"]))
    return stored


async def list_sessions(
    db: AsyncSession,
    user: User,
    *,
    team_id: int | None,
    start: date | None,
    end: date | None,
    limit: int,
    offset: int,
) -> list[TrainingSession]:
    if start is not None and end is not None and start > end:
        raise Invalid("'from' must not be after 'to'", field=("query", "from"))
    query = visible_sessions(user)
    if team_id is not None:
        await teams.team_access(db, user.id, team_id)  # 404 for a team that is not theirs
        query = query.where(TrainingSession.team_id == team_id)
    if start is not None:
        query = query.where(TrainingSession.day >= start)
    if end is not None:
        query = query.where(TrainingSession.day <= end)
    query = query.order_by(TrainingSession.start, TrainingSession.id).limit(limit).offset(offset)
    return list(await db.scalars(query))


async def update(
    db: AsyncSession, access: SessionAccess, body: schemas.SessionUpdate
) -> TrainingSession:
    """Apply changes; a new start on another day carries every member's load to that day."""
    changes = body.model_dump(exclude_unset=True)  # the fields the client sent
    training_session = await _lock_for_change(db, access)
    team = access.team_access.team
    if changes.get("season_id") is not None:
        await team_service.get_season(db, team.id, changes["season_id"])
    start = changes.get("start", training_session.start)
    end = changes.get("end", training_session.end)
    if end <= start:
        raise Invalid("end must be after start", field=("body", "end"))
    old_day = training_session.day
    for field, value in _in_utc(changes).items():
        setattr(training_session, field, value)
    training_session.day = day_of(start, team_zone(team))
    await db.flush()
    if training_session.day != old_day:
        await _recompute_members(db, training_session, [old_day, training_session.day])
    return training_session


async def delete(db: AsyncSession, access: SessionAccess) -> None:
    # Locked first, so no write for this session can commit unseen after the next query.
    training_session = await _lock_for_change(db, access)
    members = await _members_with_data(db, training_session.id)
    await db.delete(training_session)
    await db.flush()
    for membership_id in members:
        await loads.recompute_days(
            db, training_session.team_id, membership_id, [training_session.day]
        )


async def _lock_for_change(db: AsyncSession, access: SessionAccess) -> TrainingSession:
    """The session row locked for update and read afresh.

    The access check read it without a lock: a concurrent move may have committed since, and
    a move or delete must recompute the day the session is on now, not the one it was read
    on (else its load stays counted on the old day, or twice).
    """
    training_session = await db.scalar(_held(access.training_session.id, shared=False))
    if training_session is None:
        raise NotFound("Session not found")
    return training_session


async def _members_with_data(db: AsyncSession, session_id: int) -> list[int]:
    """Members with an sRPE or an attendance row for the session: their totals depend on it."""
    rows = await db.scalars(
        union(
            select(SessionRPE.membership_id).where(SessionRPE.session_id == session_id),
            select(Attendance.membership_id).where(Attendance.session_id == session_id),
        )
    )
    return sorted(rows)


async def _recompute_members(
    db: AsyncSession, training_session: TrainingSession, days: Sequence[date]
) -> None:
    for membership_id in await _members_with_data(db, training_session.id):
        await loads.recompute_days(db, training_session.team_id, membership_id, days)


async def list_attendance(db: AsyncSession, session_id: int) -> list[Attendance]:
    rows = await db.scalars(
        select(Attendance)
        .where(Attendance.session_id == session_id)
        .order_by(Attendance.membership_id)
    )
    return list(rows)


async def record_attendance(
    db: AsyncSession, access: SessionAccess, entries: Sequence[schemas.AttendanceCreate]
) -> list[Attendance]:
    """Bulk upsert, one row per member; within one request the last entry for a member wins."""
    training_session = access.training_session
    await lock_for_write(db, access)
    wanted = {entry.membership_id for entry in entries}
    members = {
        m.id: m
        for m in await db.scalars(select(TeamMembership).where(TeamMembership.id.in_(wanted)))
    }
    for index, entry in enumerate(entries):
        member = members.get(entry.membership_id)
        if member is None or member.team_id != training_session.team_id:
            raise Invalid(
                "Not a member of this session's team", field=("body", index, "membership_id")
            )
        if not member.active:
            raise Conflict(f"Membership {member.id} is inactive; it takes no new entries")
    latest = {entry.membership_id: entry for entry in entries}
    for membership_id in sorted(latest):
        # Before the upsert, so an sRPE write checking for ABSENT cannot slip in between.
        await lock_member_days(db, training_session.team_id, membership_id, [training_session.day])
    rows = [
        {
            "team_id": training_session.team_id,
            "session_id": training_session.id,
            "membership_id": membership_id,
            "status": entry.status,
            "minutes_participated": entry.minutes_participated,
        }
        for membership_id, entry in sorted(latest.items())
    ]
    if rows:
        await upsert(
            db,
            Attendance,
            rows,
            conflict=["session_id", "membership_id"],
            update=["status", "minutes_participated"],
        )
    for membership_id in sorted(latest):
        await loads.recompute_days(
            db, training_session.team_id, membership_id, [training_session.day]
        )
    return await list_attendance(db, training_session.id)


_ATTENDANCE_OF = select(Attendance).where(
    Attendance.session_id == bindparam("session_id"),
    Attendance.membership_id == bindparam("membership_id"),
)


async def attendance_of(db: AsyncSession, session_id: int, membership_id: int) -> Attendance | None:
    return await db.scalar(
        _ATTENDANCE_OF, {"session_id": session_id, "membership_id": membership_id}
    )
