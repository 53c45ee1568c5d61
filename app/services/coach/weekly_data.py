"""The data of the weekly coach report: one ISO week of loads, ACWR, wellness,
attendance and availability per player, which :mod:`app.services.coach.weekly_csv` and
:mod:`app.services.coach.weekly_pdf` render.

:func:`read` reads everything in a fixed number of statements (one per kind of data for
the whole team), whatever the size of the squad. Request-scoped: it takes the request's
session and never begins or commits.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Invalid
from app.models import (
    AcwrSnapshot,
    AcwrState,
    Attendance,
    AttendanceStatus,
    DailyLoad,
    LoadSource,
    Team,
    TrainingSession,
    WellnessLog,
)
from app.services.acwr import stored as acwr_stored
from app.services.coach import availability, roster
from app.services.loads import planned as planned_loads
from app.services.loads.summary import iso_week_label
from app.services.platform.days import team_zone, today
from app.services.wellness import scoring as wellness

CHART_DAYS = 28  # the per-player ACWR charts show the four weeks ending on the report's Sunday
_WEEK = re.compile(r"(\d{4})-W(\d{2})")


def parse_week(value: str | None, team: Team) -> tuple[int, int]:
    """``YYYY-Www`` as (ISO year, week); default the current ISO week in the team's zone."""
    if value is None:
        iso = today(team_zone(team)).isocalendar()
        return iso.year, iso.week
    match = _WEEK.fullmatch(value)
    problem = "'week' must be an ISO week YYYY-Www between 2000-W01 and 2100-W52"
    if match is None:
        raise Invalid(problem, field=("query", "week"))
    year, week = int(match[1]), int(match[2])
    if not 2000 <= year <= 2100:
        raise Invalid(problem, field=("query", "week"))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise Invalid(f"{year} has no ISO week {week}", field=("query", "week")) from None
    return year, week


@dataclass
class PlayerDay:
    date: date
    sessions: int = 0
    attendance: list[str] = field(default_factory=list)
    internal_load_au: int = 0
    planned_au: int | None = None  # None: no planned session the player was due at
    external_load_pl: float = 0.0
    acute: float | None = None
    chronic: float | None = None
    ratio: float | None = None
    zone: str = ""
    wellness_total: int | None = None
    wellness_flag: str | None = None
    availability: str = ""  # empty after today: not known yet

    @property
    def attended(self) -> int:
        return sum(s in (AttendanceStatus.PRESENT, AttendanceStatus.LATE) for s in self.attendance)


@dataclass
class PlayerWeek:
    status: roster.PlayerStatus
    days: list[PlayerDay]
    chart: list[PlayerDay]  # CHART_DAYS days of ACWR, ending on the week's Sunday

    @property
    def name(self) -> str:
        return self.status.user.full_name


@dataclass
class WeeklyData:
    team: Team
    label: str
    monday: date
    days: list[date]
    today: date
    sessions_per_day: dict[date, int]
    players: list[PlayerWeek]

    @property
    def sunday(self) -> date:
        return self.days[-1]


async def read(db: AsyncSession, team: Team, week: str | None) -> WeeklyData:
    """The ISO week ``week`` (``YYYY-Www``; default the current week in the team's zone)
    of the team's active players, with four weeks of ACWR for the charts."""
    year, number = parse_week(week, team)
    monday = date.fromisocalendar(year, number, 1)
    days = [monday + timedelta(days=i) for i in range(7)]
    local_today = today(team_zone(team))
    chart_start = days[-1] - timedelta(days=CHART_DAYS - 1)
    # Status as of the week's last day that has begun (players, refresh, ACWR, wellness, HRV,
    # availability); the team's problems of the whole week are read once for both.
    status_day = max(min(days[-1], local_today), monday)
    health = await availability.read(db, team.id, monday, days[-1])
    statuses = await roster.player_statuses(db, team, status_day, health=health)
    ids = [s.membership.id for s in statuses]
    grid = {m: {d: PlayerDay(d) for d in days} for m in ids}
    for member, member_days in grid.items():
        for day in days:
            if day <= local_today:
                member_days[day].availability = health.availability(member, day)
    chart = {
        m: {
            chart_start + timedelta(days=i): PlayerDay(chart_start + timedelta(days=i))
            for i in range(CHART_DAYS)
        }
        for m in ids
    }

    loads = await db.execute(
        select(
            DailyLoad.membership_id,
            DailyLoad.date,
            DailyLoad.internal_load_au,
            DailyLoad.external_load_pl,
        ).where(DailyLoad.team_id == team.id, DailyLoad.date >= monday, DailyLoad.date <= days[-1])
    )
    for member, day, internal, external in loads.all():
        if member in grid:
            grid[member][day].internal_load_au = int(internal)
            grid[member][day].external_load_pl = float(external)

    first_loads = dict(
        (
            await db.execute(
                select(AcwrState.membership_id, AcwrState.first_load_day).where(
                    AcwrState.team_id == team.id, AcwrState.source == LoadSource.INTERNAL
                )
            )
        ).all()
    )
    snapshots = await db.execute(
        select(
            AcwrSnapshot.membership_id,
            AcwrSnapshot.date,
            AcwrSnapshot.acute_ewma,
            AcwrSnapshot.chronic_ewma,
            AcwrSnapshot.ratio,
            AcwrSnapshot.coverage,
        ).where(
            AcwrSnapshot.team_id == team.id,
            AcwrSnapshot.source == LoadSource.INTERNAL,
            AcwrSnapshot.date >= chart_start,
            AcwrSnapshot.date <= days[-1],
        )
    )
    coverage: dict[int, dict[date, float]] = defaultdict(dict)
    for member, day, acute, chronic, ratio, share in snapshots.all():
        if member in chart:
            point = chart[member][day]
            point.acute, point.chronic, point.ratio = acute, chronic, ratio
            coverage[member][day] = share
    params = acwr_stored.params_of(team)
    for member, points in chart.items():
        past = [p for p in points.values() if p.date <= local_today]
        zones = acwr_stored.zones_of(
            params,
            first_loads.get(member),
            [p.date for p in past],
            [p.ratio for p in past],
            [coverage[member].get(p.date, 1.0) for p in past],
        )
        for point, zone in zip(past, zones, strict=True):
            point.zone = zone
        for day in days:
            source = points[day]
            target = grid[member][day]
            target.acute, target.chronic = source.acute, source.chronic
            target.ratio, target.zone = source.ratio, source.zone

    # The week's entries and the 28 days before (their baselines), as plain columns: each
    # day's flag is the one raised by the player's own baseline, as on the roster.
    logs = await db.execute(
        select(
            WellnessLog.membership_id,
            WellnessLog.date,
            *(getattr(WellnessLog, item) for item in wellness.ITEMS),
        ).where(
            WellnessLog.team_id == team.id,
            WellnessLog.date >= monday - timedelta(days=wellness.WINDOW_DAYS),
            WellnessLog.date <= days[-1],
        )
    )
    histories: dict[int, dict[date, wellness.Values]] = defaultdict(dict)
    for member, day, *values in logs.all():
        if member in grid:
            histories[member][day] = values
    for member, history in histories.items():
        logged = [day for day in days if day in history]
        for day, result in zip(logged, wellness.assess_days(history, logged), strict=True):
            grid[member][day].wellness_total = result.total
            grid[member][day].wellness_flag = result.flag

    per_day = await db.execute(
        select(TrainingSession.day, func.count(TrainingSession.id))
        .where(
            TrainingSession.team_id == team.id,
            TrainingSession.day >= monday,
            TrainingSession.day <= days[-1],
        )
        .group_by(TrainingSession.day)
    )
    sessions_per_day: dict[date, int] = dict.fromkeys(days, 0)
    sessions_per_day.update(dict(per_day.all()))
    attendance = await db.execute(
        select(Attendance.membership_id, TrainingSession.day, Attendance.status)
        .join(TrainingSession, TrainingSession.id == Attendance.session_id)
        .where(
            Attendance.team_id == team.id,
            TrainingSession.day >= monday,
            TrainingSession.day <= days[-1],
        )
        .order_by(TrainingSession.start, TrainingSession.id)
    )
    for member, day, status in attendance.all():
        if member in grid:
            grid[member][day].attendance.append(AttendanceStatus(status).value)
    for member in ids:
        for day in days:
            grid[member][day].sessions = sessions_per_day[day]
    planned = await planned_loads.team_by_day(db, team.id, ids, monday, days[-1])
    for member, planned_days in planned.items():
        for day, load in planned_days.items():
            grid[member][day].planned_au = load

    players = [
        PlayerWeek(
            s,
            list(grid[s.membership.id].values()),
            list(chart[s.membership.id].values()),
        )
        for s in statuses
    ]
    return WeeklyData(
        team, iso_week_label(monday), monday, days, local_today, sessions_per_day, players
    )


def filename(data: WeeklyData, extension: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", data.team.name).strip("-") or f"team-{data.team.id}"
    return f"{slug}-{data.label}.{extension}"


def number_text(value: float | None, digits: int = 2) -> str:
    """A value as both reports print it: ``digits`` decimals, empty when there is none."""
    return "" if value is None else f"{value:.{digits}f}"
