"""Which players are due a reminder now, and sending them: set-based, per team.

Why it is shaped this way: the job runs every minute for every team with reminders, so
each kind is one ``INSERT ... SELECT`` over the team's players (per session for sRPE:
a team has a handful of sessions in the look-back window), with ``ON CONFLICT DO
NOTHING RETURNING``: only the transaction whose insert stored a row sends that reminder,
so two workers running at once send it once. The ``SELECT`` also leaves out the rows
already stored, so a minute's rerun inserts nothing and burns no id of the table's
sequence (an insert that conflicts would, 10,000 players x 1,440 minutes a day).

A player who answered (a wellness entry for the day, an sRPE for the session) or was not
there (attendance ``ABSENT`` or ``EXCUSED``) is never reminded. The players' names and
addresses are read once, for those reminded; the ``reminder.due`` events and the emails
(claimed accounts only: an unclaimed one has no password to sign in with) are queued in
one batch each, in the same transaction as the rows.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, exists, literal, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import dialect_insert
from app.models import (
    Attendance,
    AttendanceStatus,
    Reminder,
    ReminderKind,
    Role,
    SessionRPE,
    TeamMembership,
    TrainingSession,
    User,
    WellnessLog,
)
from app.services.email import outbox
from app.services.outbound import deliveries
from app.services.platform.days import team_zone

SRPE_LOOKBACK = timedelta(hours=24)  # a reminder due longer ago is not sent any more
NOT_THERE = (AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED)
_COLUMNS = ("team_id", "membership_id", "kind", "occasion", "day", "session_id", "due_at")
_TABLE = Reminder.__table__


@dataclass
class TeamReminders:
    """A team's reminder settings, as the job reads them for every team at once."""

    id: int
    name: str
    timezone: str
    wellness_at: time | None
    srpe_after_minutes: int | None


@dataclass(frozen=True)
class Sent:
    membership_id: int
    kind: ReminderKind
    day: date
    session: TrainingSession | None = None


def wellness_due(team: TeamReminders, now: datetime) -> tuple[date, datetime] | None:
    """Today's wellness reminder (the team's local day, the UTC instant it is due) once
    that instant has passed; None before it, or when the team has none. Only today's:
    a job that runs late catches up within the day, never with yesterday's."""
    if team.wellness_at is None:
        return None
    zone = team_zone(team)
    day = now.astimezone(zone).date()
    due = datetime.combine(day, team.wellness_at, zone).astimezone(UTC)
    return (day, due) if now >= due else None


def _players(team_id: int) -> Any:
    return (
        (TeamMembership.team_id == team_id)
        & TeamMembership.active.is_(True)
        & (TeamMembership.role == Role.PLAYER)
    )


def _not_reminded(kind: ReminderKind, occasion: str) -> Any:
    return ~exists().where(
        Reminder.membership_id == TeamMembership.id,
        Reminder.kind == kind,
        Reminder.occasion == occasion,
    )


def _typed(name: str, value: Any) -> Any:
    return literal(value, _TABLE.c[name].type)


async def _insert(
    db: AsyncSession,
    team_id: int,
    kind: ReminderKind,
    occasion: str,
    day: date,
    session_id: int | None,
    due: datetime,
    *conditions: Any,
) -> list[int]:
    """Store the reminders of the players meeting ``conditions``; the memberships stored."""
    rows = (
        select(
            _typed("team_id", team_id),
            TeamMembership.id,
            _typed("kind", kind),
            literal(occasion, String),
            _typed("day", day),
            null() if session_id is None else _typed("session_id", session_id),
            _typed("due_at", due),
        )
        .where(_players(team_id), _not_reminded(kind, occasion), *conditions)
        .order_by(TeamMembership.id)  # the same order in every worker: no deadlock
    )
    statement = (
        dialect_insert(db, Reminder)
        .from_select(list(_COLUMNS), rows)
        .on_conflict_do_nothing(index_elements=["membership_id", "kind", "occasion"])
        .returning(Reminder.membership_id)
    )
    return list(await db.scalars(statement))


async def _wellness(db: AsyncSession, team: TeamReminders, now: datetime) -> list[Sent]:
    due = wellness_due(team, now)
    if due is None:
        return []
    day, due_at = due
    answered = exists().where(
        WellnessLog.membership_id == TeamMembership.id, WellnessLog.date == day
    )
    kind = ReminderKind.WELLNESS
    stored = await _insert(db, team.id, kind, day.isoformat(), day, None, due_at, ~answered)
    return [Sent(member, kind, day) for member in stored]


async def _srpe(db: AsyncSession, team: TeamReminders, now: datetime) -> list[Sent]:
    """Sessions that ended ``srpe_after_minutes`` ago or more, within the look-back."""
    if team.srpe_after_minutes is None:
        return []
    after = timedelta(minutes=team.srpe_after_minutes)
    cutoff = now - after
    sessions = await db.scalars(
        select(TrainingSession)
        .where(
            TrainingSession.team_id == team.id,
            TrainingSession.end <= cutoff,
            TrainingSession.end > cutoff - SRPE_LOOKBACK,
        )
        .order_by(TrainingSession.end, TrainingSession.id)
    )
    kind = ReminderKind.SRPE
    sent: list[Sent] = []
    for session in sessions:
        rated = exists().where(
            SessionRPE.session_id == session.id, SessionRPE.membership_id == TeamMembership.id
        )
        away = exists().where(
            Attendance.session_id == session.id,
            Attendance.membership_id == TeamMembership.id,
            Attendance.status.in_(NOT_THERE),
        )
        stored = await _insert(
            db,
            team.id,
            kind,
            str(session.id),
            session.day,
            session.id,
            session.end + after,
            ~rated,
            ~away,
        )
        sent += [Sent(member, kind, session.day, session) for member in stored]
    return sent


async def remind_team(
    db: AsyncSession, settings: Settings, team: TeamReminders, now: datetime
) -> list[Sent]:
    """Store, announce and email every reminder of the team due at ``now``, in the
    caller's transaction; returns those sent (by this transaction only)."""
    sent = await _wellness(db, team, now) + await _srpe(db, team, now)
    if not sent:
        return []
    people = {
        row.id: row
        for row in await db.execute(
            select(
                TeamMembership.id,
                TeamMembership.user_id,
                User.email,
                User.full_name,
                User.password_hash.is_not(None).label("claimed"),
            )
            .join(User, User.id == TeamMembership.user_id)
            .where(TeamMembership.id.in_({s.membership_id for s in sent}))
        )
    }
    await deliveries.enqueue_many(
        db,
        team.id,
        deliveries.REMINDER_DUE,
        [
            {
                "membership_id": s.membership_id,
                "user_id": people[s.membership_id].user_id,
                "kind": s.kind.value,
                "session_id": None if s.session is None else s.session.id,
            }
            for s in sent
        ],
    )
    emails = [
        _email(team, s, people[s.membership_id]) for s in sent if people[s.membership_id].claimed
    ]
    await outbox.enqueue_many(db, settings, emails, team_id=team.id)
    return sent


def _email(team: TeamReminders, sent: Sent, person: Any) -> outbox.Outgoing:
    context: dict[str, object] = {
        "full_name": person.full_name,
        "team_name": team.name,
        "day": sent.day.isoformat(),
    }
    if sent.session is not None:
        start = sent.session.start.astimezone(team_zone(team))
        context |= {"session_title": sent.session.title, "start_time": start.strftime("%H:%M")}
    return outbox.Outgoing(
        template=f"reminder_{sent.kind.value}",
        to=person.email,
        context=context,
        user_id=person.user_id,
    )
