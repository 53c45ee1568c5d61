"""Coach views: each player's status from ACWR, wellness and HRV, and the morning report.

Every read loads all players' data in a fixed number of statements (one per signal for
the whole team), so its cost in queries does not grow with the team's size.

Status is the worst of the signals that have data:

- ACWR (the newest internal-load snapshot up to the day): ``danger`` -> red, ``high`` or
  ``low`` -> amber, ``optimal`` -> green; ``insufficient_data`` or no snapshot -> no data.
- Wellness of the day: its flag (red, amber, green); no entry -> no data.
- HRV of the day: ``below`` -> amber, ``normal`` or ``above`` -> green; no flag (too few
  values for the rolling mean or the baseline) -> no data.

With no signal having data the status is ``no_data``: a missing check-in never reads green.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Invalid
from app.models import (
    ATTENDED,
    AcwrSnapshot,
    AcwrState,
    Alert,
    Attendance,
    AttendanceStatus,
    DailyHRV,
    LoadSource,
    Role,
    SessionRPE,
    Team,
    TeamMembership,
    TrainingSession,
    User,
    WellnessLog,
)
from app.services import acwr_snapshots, hrv, wellness
from app.services.days import team_zone, today

Status = Literal["green", "amber", "red", "no_data"]
WINDOW_DAYS = 28  # the dashboard's attendance and compliance window, ending on its day

_RANK: dict[Status, int] = {"no_data": 0, "green": 1, "amber": 2, "red": 3}
# insufficient_data is absent on purpose: it is no data, not green.
_ACWR_STATUS: dict[str, Status] = {
    "danger": "red",
    "high": "amber",
    "low": "amber",
    "optimal": "green",
}


@dataclass(frozen=True)
class AcwrPoint:
    date: date
    ratio: float | None
    zone: str


@dataclass(frozen=True)
class WellnessPoint:
    date: date
    total: int
    flag: wellness.Flag


@dataclass(frozen=True)
class PlayerStatus:
    membership: TeamMembership
    user: User
    latest_acwr: AcwrPoint | None
    wellness_today: WellnessPoint | None
    hrv_flag: hrv.Flag | None
    status: Status


def combine(
    zone: str | None, wellness_flag: wellness.Flag | None, hrv_flag: hrv.Flag | None
) -> Status:
    """The worst of the signals that have data (see the module's docstring)."""
    signals: list[Status] = []
    if zone in _ACWR_STATUS:
        signals.append(_ACWR_STATUS[zone])
    if wellness_flag is not None:
        signals.append(wellness_flag)
    if hrv_flag is not None:
        signals.append("amber" if hrv_flag == "below" else "green")
    return max(signals, key=_RANK.__getitem__, default="no_data")


async def _players(session: AsyncSession, team: Team) -> list[tuple[TeamMembership, User]]:
    rows = await session.execute(
        select(TeamMembership, User)
        .join(User, User.id == TeamMembership.user_id)
        .where(
            TeamMembership.team_id == team.id,
            TeamMembership.active.is_(True),
            TeamMembership.role == Role.PLAYER,
        )
        .order_by(TeamMembership.jersey_number.is_(None), TeamMembership.jersey_number)
        .order_by(TeamMembership.id)
    )
    return [(m, u) for m, u in rows.all()]


async def _latest_acwr(session: AsyncSession, team: Team, day: date) -> dict[int, AcwrPoint]:
    """Each member's newest internal snapshot up to ``day``, with its zone, in one query."""
    newest = (
        select(AcwrSnapshot.membership_id, func.max(AcwrSnapshot.date).label("day"))
        .where(
            AcwrSnapshot.team_id == team.id,
            AcwrSnapshot.source == LoadSource.INTERNAL,
            AcwrSnapshot.date <= day,
        )
        .group_by(AcwrSnapshot.membership_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            AcwrSnapshot.membership_id,
            AcwrSnapshot.date,
            AcwrSnapshot.ratio,
            AcwrSnapshot.coverage,
            AcwrState.first_load_day,
        )
        .join(
            newest,
            (newest.c.membership_id == AcwrSnapshot.membership_id)
            & (newest.c.day == AcwrSnapshot.date),
        )
        .outerjoin(
            AcwrState,
            (AcwrState.membership_id == AcwrSnapshot.membership_id)
            & (AcwrState.source == AcwrSnapshot.source),
        )
        .where(AcwrSnapshot.source == LoadSource.INTERNAL)
    )
    params = acwr_snapshots.params_of(team)
    points: dict[int, AcwrPoint] = {}
    for membership_id, snap_day, ratio, coverage, first_load_day in rows.all():
        (zone,) = acwr_snapshots.zones_of(params, first_load_day, [snap_day], [ratio], [coverage])
        points[membership_id] = AcwrPoint(snap_day, ratio, zone)
    return points


async def _wellness_of(session: AsyncSession, team: Team, day: date) -> dict[int, WellnessPoint]:
    logs = await session.scalars(
        select(WellnessLog).where(WellnessLog.team_id == team.id, WellnessLog.date == day)
    )
    points = {}
    for log in logs:
        total, flag = wellness.score_log(log)
        points[log.membership_id] = WellnessPoint(log.date, total, flag)
    return points


async def _hrv_flags(session: AsyncSession, team: Team, day: date) -> dict[int, hrv.Flag | None]:
    """Each member's HRV flag of ``day``, from the baseline window and the day, in one query."""
    readings = await session.scalars(
        select(DailyHRV).where(
            DailyHRV.team_id == team.id,
            DailyHRV.date >= day - timedelta(days=hrv.HISTORY_DAYS),
            DailyHRV.date <= day,
        )
    )
    by_member: dict[int, list[DailyHRV]] = defaultdict(list)
    for reading in readings:
        by_member[reading.membership_id].append(reading)
    return {
        membership_id: hrv.day_point(hrv.choose_daily(member_readings), day).flag
        for membership_id, member_readings in by_member.items()
    }


async def player_statuses(
    session: AsyncSession, team: Team, day: date | None = None
) -> list[PlayerStatus]:
    """The active players with their signals and status on ``day`` (default: today)."""
    local_today = today(team_zone(team))
    day = day or local_today
    # Bring every active member's snapshots up to today, so the roster reflects every write.
    await acwr_snapshots.refresh(session, [team], LoadSource.INTERNAL)
    players = await _players(session, team)
    acwr_points = await _latest_acwr(session, team, day)
    wellness_points = await _wellness_of(session, team, day)
    hrv_flags = await _hrv_flags(session, team, day)
    statuses = []
    for membership, user in players:
        point = acwr_points.get(membership.id)
        entry = wellness_points.get(membership.id)
        flag = hrv_flags.get(membership.id)
        statuses.append(
            PlayerStatus(
                membership=membership,
                user=user,
                latest_acwr=point,
                wellness_today=entry,
                hrv_flag=flag,
                status=combine(point.zone if point else None, entry.flag if entry else None, flag),
            )
        )
    return statuses


@dataclass(frozen=True)
class AttendanceCounts:
    present: int = 0
    late: int = 0
    absent: int = 0
    excused: int = 0
    rated: int = 0  # attended sessions (present or late) with an sRPE

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


@dataclass(frozen=True)
class DashboardPlayer:
    player: PlayerStatus
    wellness_submitted: bool
    attendance: AttendanceCounts
    wellness_compliance: float


@dataclass(frozen=True)
class DashboardData:
    date: date
    players: list[DashboardPlayer]
    wellness_missing: list[int]
    open_alerts: list[Alert]


async def _attendance(
    session: AsyncSession, team: Team, first: date, last: date
) -> dict[int, AttendanceCounts]:
    """Per member: attendance counts by status and attended sessions with an sRPE."""
    rows = await session.execute(
        select(
            Attendance.membership_id,
            Attendance.status,
            func.count(Attendance.id),
            func.count(SessionRPE.id),
        )
        .join(TrainingSession, TrainingSession.id == Attendance.session_id)
        .outerjoin(
            SessionRPE,
            (SessionRPE.session_id == Attendance.session_id)
            & (SessionRPE.membership_id == Attendance.membership_id),
        )
        .where(
            Attendance.team_id == team.id,
            TrainingSession.day >= first,
            TrainingSession.day <= last,
        )
        .group_by(Attendance.membership_id, Attendance.status)
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for membership_id, status, count, rated in rows.all():
        fields = counts[membership_id]
        fields[AttendanceStatus(status).value.lower()] = count
        if status in ATTENDED:
            fields["rated"] = fields.get("rated", 0) + rated
    return {m: AttendanceCounts(**fields) for m, fields in counts.items()}


async def _wellness_days(
    session: AsyncSession, team: Team, first: date, last: date
) -> dict[int, int]:
    rows = await session.execute(
        select(WellnessLog.membership_id, func.count(WellnessLog.id))
        .where(WellnessLog.team_id == team.id, WellnessLog.date >= first, WellnessLog.date <= last)
        .group_by(WellnessLog.membership_id)
    )
    return dict(rows.all())


async def dashboard(session: AsyncSession, team: Team, day: date | None) -> DashboardData:
    """The morning report of ``day`` (default today in the team's zone; not in the future)."""
    local_today = today(team_zone(team))
    if day is None:
        day = local_today
    if day > local_today:
        raise Invalid("'date' must not be in the future (team's zone)", field=("query", "date"))
    first = day - timedelta(days=WINDOW_DAYS - 1)
    statuses = await player_statuses(session, team, day)
    attendance = await _attendance(session, team, first, day)
    wellness_days = await _wellness_days(session, team, first, day)
    alerts = list(
        await session.scalars(
            select(Alert)
            .where(Alert.team_id == team.id, Alert.acknowledged_at.is_(None))
            .order_by(Alert.date.desc(), Alert.id.desc())
        )
    )
    players = [
        DashboardPlayer(
            player=status,
            wellness_submitted=status.wellness_today is not None,
            attendance=attendance.get(status.membership.id, AttendanceCounts()),
            wellness_compliance=wellness_days.get(status.membership.id, 0) / WINDOW_DAYS,
        )
        for status in statuses
    ]
    missing = [p.player.membership.id for p in players if not p.wellness_submitted]
    return DashboardData(day, players, missing, alerts)
