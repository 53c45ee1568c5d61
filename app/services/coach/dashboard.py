"""The coach's morning report of a day: each player's status and check-in, 28-day
attendance and compliance, who has not checked in, and the team's open alerts.

Built on the roster's statuses (:mod:`app.services.coach.roster`): the players' row of
:mod:`app.services.coach.player_signals` carries the window's counts too, so the report
takes that one statement, one for the team's health problems (availability) and one for
the open alerts, whatever the team's size.
Request-scoped: it takes the request's session and never begins or commits.
"""

import functools
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Invalid
from app.models import Alert, Team
from app.services.coach import availability, player_signals, roster
from app.services.platform.days import team_zone, today

WINDOW_DAYS = 28  # the dashboard's attendance and compliance window, ending on its day

_TEAM = bindparam("team_id", type_=Integer)


@functools.cache
def _open_alerts_statement() -> Select[*tuple[Any, ...]]:
    """The team's open (unacknowledged) alerts, newest first, as plain columns."""
    return (
        select(*Alert.__table__.columns)
        .where(Alert.team_id == _TEAM, Alert.acknowledged_at.is_(None))
        .order_by(Alert.date.desc(), Alert.id.desc())
    )


@dataclass(frozen=True)
class AttendanceCounts:
    present: int = 0
    late: int = 0
    absent: int = 0
    excused: int = 0
    rated: int = 0  # attended sessions (present or late) with an sRPE
    attended_7d: int = 0  # the same two over the last 7 days of the window
    rated_7d: int = 0

    @property
    def attended(self) -> int:
        return self.present + self.late

    @property
    def recorded(self) -> int:
        return self.present + self.late + self.absent + self.excused

    @property
    def rate(self) -> float | None:
        return self.attended / self.recorded if self.recorded else None

    @property
    def srpe_compliance(self) -> float | None:
        return self.rated / self.attended if self.attended else None

    @property
    def srpe_compliance_7d(self) -> float | None:
        return self.rated_7d / self.attended_7d if self.attended_7d else None


@dataclass(frozen=True)
class DashboardPlayer:
    player: roster.PlayerStatus
    wellness_submitted: bool
    attendance: AttendanceCounts
    wellness_compliance: float
    wellness_compliance_7d: float


@dataclass(frozen=True)
class DashboardData:
    date: date
    players: list[DashboardPlayer]
    wellness_missing: list[int]
    open_alerts: list[Row[Any]]  # every column of each open alert, newest first

    @property
    def availability_counts(self) -> dict[availability.Level, int]:
        """How many players are available, modified and unavailable on the day."""
        return availability.counts([p.player.availability for p in self.players])


def _attendance_of(row: Row[Any]) -> AttendanceCounts:
    """The row's counts; a member without attendance in the window has none (nulls)."""
    return AttendanceCounts(
        row.present or 0,
        row.late or 0,
        row.absent or 0,
        row.excused or 0,
        row.rated or 0,
        row.attended_7d or 0,
        row.rated_7d or 0,
    )


async def morning_report(db: AsyncSession, team: Team, day: date | None) -> DashboardData:
    """The morning report of ``day`` (default today in the team's zone; not in the future)."""
    local_today = today(team_zone(team))
    if day is None:
        day = local_today
    if day > local_today:
        raise Invalid("'date' must not be in the future (team's zone)", field=("query", "date"))
    first = day - timedelta(days=WINDOW_DAYS - 1)
    rows, hrv_values = await player_signals.player_rows(db, team, day, first)
    health = await availability.read(db, team.id, day, day)
    statuses = roster.statuses_of(team, rows, hrv_values, day, health)
    alerts = list(await db.execute(_open_alerts_statement(), {"team_id": team.id}))
    players = [
        DashboardPlayer(
            player=status,
            wellness_submitted=status.wellness_today is not None,
            attendance=_attendance_of(row),
            wellness_compliance=row.wellness_days / WINDOW_DAYS,
            wellness_compliance_7d=row.wellness_days_7d / player_signals.WEEK_DAYS,
        )
        for status, row in zip(statuses, rows, strict=True)
    ]
    missing = [p.player.membership.id for p in players if not p.wellness_submitted]
    return DashboardData(day, players, missing, alerts)
