"""Coach views: each player's status from ACWR, wellness and HRV, and the morning report.

Status is the worst of the signals that have data:

- ACWR (the newest internal-load snapshot up to the day): ``danger`` -> red, ``high`` or
  ``low`` -> amber, ``optimal`` -> green; ``insufficient_data`` or no snapshot -> no data.
- Wellness of the day: its flag (red, amber, green); no entry -> no data.
- HRV of the day: ``below`` -> amber, ``normal`` or ``above`` -> green; no flag (too few
  values for the rolling mean or the baseline) -> no data.

With no signal having data the status is ``no_data``: a missing check-in never reads green.

Why it is shaped this way: both views must answer in 20 ms for 40 players with a year of
data, a round trip to the database costs up to 1 ms on a busy host, and building a row
object costs more than the arithmetic on its values. So one statement returns one
row per player with every signal (and, for the dashboard, its 28-day counts): the newest
snapshot and today's wellness by index lookups per player, and on PostgreSQL the player's
HRV values of the last 61 days as two arrays (``array_agg``), so no row object is built
per reading, and numpy computes every player's flag at once. The statements are built
once per dialect and kind. A second, column-only statement reads HRV readings where one
value per day must be chosen among sources (on PostgreSQL only for players who have such
a day; on SQLite, which has no arrays, for everyone). Either way the number of statements
does not depend on the team's size.
"""

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import chain
from typing import Any, Literal

import numpy as np
from sqlalchemy import (
    Date,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.db import dialect_name
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
from app.services.acwr import model as acwr
from app.services.acwr import snapshots as acwr_snapshots
from app.services.hrv import baseline as hrv
from app.services.platform.days import team_zone, today
from app.services.wellness import scoring as wellness

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
class Member:
    """The membership fields the views show (plain values: no row object per player)."""

    id: int
    user_id: int
    role: Role
    primary_position: str | None
    jersey_number: int | None


@dataclass(frozen=True)
class Person:
    id: int
    full_name: str
    email: str


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
    membership: Member
    user: Person
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


# --- pure: from plain values to signals ---------------------------------------------------


def acwr_points(
    params: acwr.AcwrParams,
    latest: Sequence[tuple[date, float | None, float, date | None] | None],
) -> list[AcwrPoint | None]:
    """Each player's newest snapshot ``(day, ratio, coverage, first load day)`` with its
    zone, by the one rule of :func:`app.services.acwr.zone`, for all players in one call."""
    known = [p for p in latest if p is not None]
    zones = acwr.zone(
        np.array([np.nan if ratio is None else ratio for _, ratio, _, _ in known], np.float64),
        # days since d0, both ends counted, as acwr_snapshots.zones_of counts them
        np.array([(d - first).days + 1 if first else 0 for d, _, _, first in known], np.int64),
        np.array([coverage for _, _, coverage, _ in known], np.float64),
        params.chronic_days,
        params.low,
        params.high,
        params.danger,
    ).tolist()
    labels = iter(zones)
    return [None if p is None else AcwrPoint(p[0], p[1], str(next(labels))) for p in latest]


HrvValues = tuple[Sequence[int], Sequence[float]]
"""One player's HRV values: days relative to the day (0 is the day, -1 the day before...),
in any order, and ln rMSSD of each, aligned."""


def hrv_flags(players: Sequence[HrvValues | None], day: date) -> list[hrv.Flag | None]:
    """Each player's HRV flag of ``day``, by :func:`app.services.hrv.day_flags`."""
    windows = np.full((len(players), hrv.WINDOW_DAYS), np.nan)
    known = [(row, values) for row, values in enumerate(players) if values is not None]
    lengths = [len(values[0]) for _, values in known]
    count = sum(lengths)
    # One scatter for the whole team: a numpy call per player costs more than the values.
    rows = np.repeat(np.array([row for row, _ in known], dtype=np.int64), lengths)
    days = np.fromiter(chain.from_iterable(v[0] for _, v in known), np.int64, count)
    lns = np.fromiter(chain.from_iterable(v[1] for _, v in known), np.float64, count)
    windows[rows, days + (hrv.WINDOW_DAYS - 1)] = lns
    return hrv.day_flags(windows, day)


def several_a_day(values: HrvValues | None) -> bool:
    """Whether some day has readings of several sources, so one must be chosen."""
    return values is not None and len(set(values[0])) < len(values[0])


def chosen_values(readings: Iterable[hrv.Reading], day: date) -> HrvValues:
    """The values that count, one per day, by :func:`app.services.hrv.choose_daily`: the
    same choice as the HRV series."""
    chosen = hrv.choose_daily(readings)
    return [(d - day).days for d in chosen], [r.ln_rmssd for r in chosen.values()]


# --- the statements -------------------------------------------------------------------------

_TEAM = bindparam("team_id", type_=Integer)
_DAY = bindparam("day", type_=Date)
_FIRST = bindparam("first", type_=Date)  # the dashboard window's first day
_HRV_FIRST = bindparam("hrv_first", type_=Date)  # the HRV history's first day


def _newest_snapshot_day() -> Any:
    """The player's newest internal snapshot day up to the day (one index probe each)."""
    newer = aliased(AcwrSnapshot)
    return (
        select(func.max(newer.date))
        .where(
            newer.membership_id == TeamMembership.id,
            newer.source == LoadSource.INTERNAL,
            newer.date <= _DAY,
        )
        .scalar_subquery()
    )


def _hrv_arrays() -> Any:
    """PostgreSQL: the player's HRV readings of the window as two arrays (days relative to
    the day, ln rMSSD), one row per player instead of one per reading.

    Both are aggregated without ``ORDER BY`` (each ordered aggregate sorts on its own, which
    doubled the statement's time): one aggregate node feeds every row to both in the same
    order, so the arrays stay aligned, and the order of days does not matter.
    """
    return (
        select(
            func.array_agg(DailyHRV.date - _DAY).label("hrv_days"),
            func.array_agg(DailyHRV.ln_rmssd).label("hrv_ln"),
        )
        .where(
            DailyHRV.membership_id == TeamMembership.id,
            DailyHRV.date >= _HRV_FIRST,
            DailyHRV.date <= _DAY,
        )
        .lateral("hrv")
    )


def _in_window(session_id: Any, postgresql: bool) -> Any:
    """The condition "``session_id`` is a session of the team in the window".

    On PostgreSQL as ``= ANY(ARRAY(...))``: the planner then reads the window's attendance
    by its session index instead of scanning the team's whole year (0.8 ms against 2).
    """
    ids = select(TrainingSession.id).where(
        TrainingSession.team_id == _TEAM,
        TrainingSession.day >= _FIRST,
        TrainingSession.day <= _DAY,
    )
    if postgresql:
        return session_id == any_(func.array(ids.scalar_subquery()))
    return session_id.in_(ids)


def _attendance_counts(postgresql: bool) -> Any:
    """Per member over the window: attendance by status, and attended sessions with an
    sRPE (a session's RPE is unique per member, so the outer join adds no rows)."""

    def of(*statuses: AttendanceStatus) -> Any:
        return or_(*(Attendance.status == status for status in statuses))

    return (
        select(
            Attendance.membership_id,
            func.count(Attendance.id).filter(of(AttendanceStatus.PRESENT)).label("present"),
            func.count(Attendance.id).filter(of(AttendanceStatus.LATE)).label("late"),
            func.count(Attendance.id).filter(of(AttendanceStatus.ABSENT)).label("absent"),
            func.count(Attendance.id).filter(of(AttendanceStatus.EXCUSED)).label("excused"),
            func.count(SessionRPE.id).filter(of(*ATTENDED)).label("rated"),
        )
        .outerjoin(
            SessionRPE,
            (SessionRPE.session_id == Attendance.session_id)
            & (SessionRPE.membership_id == Attendance.membership_id)
            & _in_window(SessionRPE.session_id, postgresql),
        )
        .where(Attendance.team_id == _TEAM, _in_window(Attendance.session_id, postgresql))
        .group_by(Attendance.membership_id)
        .subquery("attended")
    )


def _wellness_days() -> Any:
    logged = aliased(WellnessLog)
    return (
        select(func.count(logged.id))
        .where(
            logged.membership_id == TeamMembership.id,
            logged.team_id == _TEAM,
            logged.date >= _FIRST,
            logged.date <= _DAY,
        )
        .scalar_subquery()
    )


@functools.cache
def _statement(postgresql: bool, dashboard: bool) -> Select[*tuple[Any, ...]]:
    """One row per active player, in roster order, with every signal of the day."""
    statement = (
        select(
            TeamMembership.id,
            TeamMembership.user_id,
            TeamMembership.role,
            TeamMembership.primary_position,
            TeamMembership.jersey_number,
            User.full_name,
            User.email,
            AcwrSnapshot.date.label("acwr_date"),
            AcwrSnapshot.ratio,
            AcwrSnapshot.coverage,
            AcwrState.first_load_day,
            WellnessLog.date.label("wellness_date"),
            *(getattr(WellnessLog, item) for item in wellness.ITEMS),
        )
        .join(User, User.id == TeamMembership.user_id)
        .outerjoin(
            AcwrSnapshot,
            and_(
                AcwrSnapshot.membership_id == TeamMembership.id,
                AcwrSnapshot.source == LoadSource.INTERNAL,
                AcwrSnapshot.date == _newest_snapshot_day(),
            ),
        )
        .outerjoin(
            AcwrState,
            and_(
                AcwrState.membership_id == TeamMembership.id,
                AcwrState.source == LoadSource.INTERNAL,
            ),
        )
        .outerjoin(
            WellnessLog,
            and_(
                WellnessLog.membership_id == TeamMembership.id,
                WellnessLog.team_id == _TEAM,
                WellnessLog.date == _DAY,
            ),
        )
        .where(
            TeamMembership.team_id == _TEAM,
            TeamMembership.active.is_(True),
            TeamMembership.role == Role.PLAYER,
        )
        .order_by(TeamMembership.jersey_number.is_(None), TeamMembership.jersey_number)
        .order_by(TeamMembership.id)
    )
    if postgresql:
        arrays = _hrv_arrays()
        statement = statement.outerjoin(arrays, true()).add_columns(*arrays.c)
    if dashboard:
        counts = _attendance_counts(postgresql)
        statement = statement.outerjoin(
            counts, counts.c.membership_id == TeamMembership.id
        ).add_columns(
            *(counts.c[name] for name in ("present", "late", "absent", "excused", "rated")),
            _wellness_days().label("wellness_days"),
        )
    return statement


@functools.cache
def _readings_statement() -> Select[*tuple[Any, ...]]:
    """Some players' HRV readings of the window, every source, plain columns."""
    return select(
        DailyHRV.membership_id,
        DailyHRV.id,
        DailyHRV.date,
        DailyHRV.source,
        DailyHRV.rmssd_ms,
        DailyHRV.ln_rmssd,
        DailyHRV.updated_at,
    ).where(
        DailyHRV.membership_id.in_(bindparam("members", expanding=True)),
        DailyHRV.date >= _HRV_FIRST,
        DailyHRV.date <= _DAY,
    )


@functools.cache
def _open_alerts_statement() -> Select[*tuple[Any, ...]]:
    """The team's open (unacknowledged) alerts, newest first, as plain columns."""
    return (
        select(*Alert.__table__.columns)
        .where(Alert.team_id == _TEAM, Alert.acknowledged_at.is_(None))
        .order_by(Alert.date.desc(), Alert.id.desc())
    )


# --- reading ----------------------------------------------------------------------------------


def _params(team: Team, day: date, first: date | None = None) -> dict[str, Any]:
    values = {"team_id": team.id, "day": day, "hrv_first": day - timedelta(hrv.HISTORY_DAYS)}
    return values | ({"first": first} if first is not None else {})


async def _player_rows(
    session: AsyncSession, team: Team, day: date, first: date | None
) -> tuple[list[Row[Any]], list[HrvValues | None]]:
    """The players' rows (dashboard columns when ``first`` is given) and their HRV values."""
    # Bring every active member's snapshots up to today, so the views reflect every write.
    await acwr_snapshots.refresh(session, [team], LoadSource.INTERNAL)
    postgresql = dialect_name(session) == "postgresql"
    params = _params(team, day, first)
    rows = list(await session.execute(_statement(postgresql, first is not None), params))
    if not postgresql:  # no arrays: every player's readings come from a second statement
        return rows, await _chosen(session, params, [row.id for row in rows], day)
    values = [None if row.hrv_days is None else (row.hrv_days, row.hrv_ln) for row in rows]
    choose = {row.id: i for i, row in enumerate(rows) if several_a_day(values[i])}
    if choose:  # rare: a day with values of several sources needs them all to choose
        chosen = await _chosen(session, params, list(choose), day)
        for i, member_values in zip(choose.values(), chosen, strict=True):
            values[i] = member_values
    return rows, values


async def _chosen(
    session: AsyncSession, params: dict[str, Any], members: list[int], day: date
) -> list[HrvValues | None]:
    """The values that count of these players, from all their readings, in one statement."""
    if not members:
        return []
    readings: dict[int, list[hrv.StoredReading]] = defaultdict(list)
    for member, *columns in await session.execute(
        _readings_statement(), params | {"members": members}
    ):
        readings[member].append(hrv.StoredReading(*columns))
    return [chosen_values(readings[member], day) for member in members]


def _wellness_point(row: Row[Any]) -> WellnessPoint | None:
    if row.wellness_date is None:
        return None
    total, colour = wellness.score([getattr(row, item) for item in wellness.ITEMS])
    return WellnessPoint(row.wellness_date, total, colour)


def _statuses(
    team: Team, rows: Sequence[Row[Any]], hrv_values: Sequence[HrvValues | None], day: date
) -> list[PlayerStatus]:
    """Each row's signals and status; ACWR zones and HRV flags for all players at once."""
    latest = [
        None
        if row.acwr_date is None
        else (row.acwr_date, row.ratio, row.coverage, row.first_load_day)
        for row in rows
    ]
    points = acwr_points(acwr_snapshots.params_of(team), latest)
    flags = hrv_flags(hrv_values, day)
    statuses = []
    for row, point, flag in zip(rows, points, flags, strict=True):
        entry = _wellness_point(row)
        statuses.append(
            PlayerStatus(
                membership=Member(
                    row.id, row.user_id, row.role, row.primary_position, row.jersey_number
                ),
                user=Person(row.user_id, row.full_name, row.email),
                latest_acwr=point,
                wellness_today=entry,
                hrv_flag=flag,
                status=combine(point.zone if point else None, entry.flag if entry else None, flag),
            )
        )
    return statuses


async def player_statuses(
    session: AsyncSession, team: Team, day: date | None = None
) -> list[PlayerStatus]:
    """The active players with their signals and status on ``day`` (default: today)."""
    day = day or today(team_zone(team))
    rows, hrv_values = await _player_rows(session, team, day, None)
    return _statuses(team, rows, hrv_values, day)


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
    open_alerts: list[Row[Any]]  # every column of each open alert, newest first


def _attendance_of(row: Row[Any]) -> AttendanceCounts:
    """The row's counts; a member without attendance in the window has none (nulls)."""
    return AttendanceCounts(
        row.present or 0, row.late or 0, row.absent or 0, row.excused or 0, row.rated or 0
    )


async def dashboard(session: AsyncSession, team: Team, day: date | None) -> DashboardData:
    """The morning report of ``day`` (default today in the team's zone; not in the future)."""
    local_today = today(team_zone(team))
    if day is None:
        day = local_today
    if day > local_today:
        raise Invalid("'date' must not be in the future (team's zone)", field=("query", "date"))
    rows, hrv_values = await _player_rows(session, team, day, day - timedelta(days=WINDOW_DAYS - 1))
    statuses = _statuses(team, rows, hrv_values, day)
    alerts = list(await session.execute(_open_alerts_statement(), {"team_id": team.id}))
    players = [
        DashboardPlayer(
            player=status,
            wellness_submitted=status.wellness_today is not None,
            attendance=_attendance_of(row),
            wellness_compliance=row.wellness_days / WINDOW_DAYS,
        )
        for status, row in zip(statuses, rows, strict=True)
    ]
    missing = [p.player.membership.id for p in players if not p.wellness_submitted]
    return DashboardData(day, players, missing, alerts)
