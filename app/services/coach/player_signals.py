"""Every active player's signals of a day in one statement, for the roster and the dashboard.

Why it is shaped this way: both views must answer in 20 ms for 40 players with a year of
data, a round trip to the database costs up to 1 ms on a busy host, and building a row
object costs more than the arithmetic on its values. So one statement returns one
row per player with every signal (and, for the dashboard, its 28-day counts): the newest
snapshot and today's wellness by index lookups per player, the wellness baseline's 28 days
as one text of numeric codes per player, and on PostgreSQL the player's
HRV values of the last 61 days as two arrays (``array_agg``), so no row object is built
per reading, and numpy computes every player's flag at once. The statements are built
once per dialect and kind. A second, column-only statement reads HRV readings where one
value per day must be chosen among sources (on PostgreSQL only for players who have such
a day; on SQLite, which has no arrays, for everyone). Either way the number of statements
does not depend on the team's size.

Request-scoped: the functions take the request's session and never begin or commit.
"""

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import (
    Date,
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    cast,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.db import dialect_name
from app.models import (
    ATTENDED,
    AcwrSnapshot,
    AcwrState,
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
from app.services.acwr import engine as acwr_engine
from app.services.hrv import baseline as hrv
from app.services.wellness import scoring as wellness

HrvValues = tuple[Sequence[int], Sequence[float]]
"""One player's HRV values: days relative to the day (0 is the day, -1 the day before...),
in any order, and ln rMSSD of each, aligned."""


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
_FIRST_7D = bindparam("first_7d", type_=Date)  # the first of its last 7 days (compliance)
WEEK_DAYS = 7
_HRV_FIRST = bindparam("hrv_first", type_=Date)  # the HRV history's first day
_WELLNESS_FIRST = bindparam("wellness_first", type_=Date)  # the wellness baseline's first day


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


def _wellness_history(postgresql: bool) -> Any:
    """The player's wellness entries of the 28 days before the day (the baseline's window)
    as one text of comma-separated codes, one per entry: days back x 100000 + each item
    (0 when not given) as one digit, sleep_quality first (``2745340``: 27 days back,
    items 4, 5, 3, 4, not given). One value per player in the players' statement, decoded
    for the whole team at once (:func:`decode_history`): no statement and no row object
    per entry, and no JSON to parse."""
    logged = aliased(WellnessLog)
    if postgresql:
        back: Any = _DAY - logged.date
    else:
        back = cast(func.julianday(_DAY) - func.julianday(logged.date), Integer)
    code = back * 10 ** len(wellness.ITEMS)
    for place, item in enumerate(reversed(wellness.ITEMS)):
        code = code + func.coalesce(getattr(logged, item), 0) * 10**place
    if postgresql:
        aggregate = func.string_agg(cast(code, String), ",")
    else:
        aggregate = func.group_concat(code, ",")
    return (
        select(aggregate)
        .where(
            logged.membership_id == TeamMembership.id,
            logged.date >= _WELLNESS_FIRST,
            logged.date < _DAY,
        )
        .scalar_subquery()
    )


def decode_history(histories: Sequence[str | None]) -> tuple[Any, Any, Any]:
    """The codes of :func:`_wellness_history` of several players at once: the row (index in
    ``histories``) of each entry, its days back, and its items (0: not given), as arrays."""
    lengths = [0 if text is None else text.count(",") + 1 for text in histories]
    joined = ",".join(text for text in histories if text)
    codes = np.array(joined.split(",") if joined else [], dtype=np.int64)
    size = 10 ** len(wellness.ITEMS)
    places = 10 ** np.arange(len(wellness.ITEMS) - 1, -1, -1, dtype=np.int64)
    items = (codes[:, None] % size) // places % 10
    return np.repeat(np.arange(len(histories)), lengths), codes // size, items


def _in_window(session_id: Any, postgresql: bool, first: Any = _FIRST) -> Any:
    """The condition "``session_id`` is a session of the team in the window" (from
    ``first``: the dashboard's 28 days, or its last 7).

    On PostgreSQL as ``= ANY(ARRAY(...))``: the planner then reads the window's attendance
    by its session index instead of scanning the team's whole year (0.8 ms against 2).
    """
    ids = select(TrainingSession.id).where(
        TrainingSession.team_id == _TEAM,
        TrainingSession.day >= first,
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

    def week(session_id: Any) -> Any:
        return _in_window(session_id, postgresql, _FIRST_7D)

    return (
        select(
            Attendance.membership_id,
            func.count(Attendance.id).filter(of(AttendanceStatus.PRESENT)).label("present"),
            func.count(Attendance.id).filter(of(AttendanceStatus.LATE)).label("late"),
            func.count(Attendance.id).filter(of(AttendanceStatus.ABSENT)).label("absent"),
            func.count(Attendance.id).filter(of(AttendanceStatus.EXCUSED)).label("excused"),
            func.count(SessionRPE.id).filter(of(*ATTENDED)).label("rated"),
            func.count(Attendance.id)
            .filter(of(*ATTENDED), week(Attendance.session_id))
            .label("attended_7d"),
            func.count(SessionRPE.id)
            .filter(of(*ATTENDED), week(Attendance.session_id))
            .label("rated_7d"),
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


def _wellness_days(first: Any = _FIRST) -> Any:
    logged = aliased(WellnessLog)
    return (
        select(func.count(logged.id))
        .where(
            logged.membership_id == TeamMembership.id,
            logged.team_id == _TEAM,
            logged.date >= first,
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
            _wellness_history(postgresql).label("wellness_history"),
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
            counts.c.attended_7d,
            counts.c.rated_7d,
            _wellness_days().label("wellness_days"),
            _wellness_days(_FIRST_7D).label("wellness_days_7d"),
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


# --- reading ----------------------------------------------------------------------------------


def _params(team: Team, day: date, first: date | None = None) -> dict[str, Any]:
    values = {
        "team_id": team.id,
        "day": day,
        "hrv_first": day - timedelta(hrv.HISTORY_DAYS),
        "wellness_first": day - timedelta(wellness.WINDOW_DAYS),
    }
    if first is None:
        return values
    return values | {"first": first, "first_7d": day - timedelta(days=WEEK_DAYS - 1)}


async def player_rows(
    db: AsyncSession, team: Team, day: date, first: date | None
) -> tuple[list[Row[Any]], list[HrvValues | None]]:
    """The active players' rows of ``day``, in roster order, and their HRV values; with
    ``first`` (the dashboard window's first day) the rows carry the dashboard's counts too.

    Columns: the membership (``id``, ``user_id``, ``role``, ``primary_position``,
    ``jersey_number``), the user (``full_name``, ``email``), the newest snapshot
    (``acwr_date``, ``ratio``, ``coverage``, ``first_load_day``), the day's wellness
    (``wellness_date`` and its items) and the wellness of the 28 days before
    (``wellness_history``: see :func:`decode_history`; null without entries); the
    dashboard's ``present``, ``late``, ``absent``, ``excused``, ``rated``, ``attended_7d``,
    ``rated_7d`` (nulls without attendance), ``wellness_days`` and ``wellness_days_7d``
    (the last 7 days of the window)."""
    # Bring every active member's snapshots up to today, so the views reflect every write.
    await acwr_engine.refresh(db, [team], LoadSource.INTERNAL)
    postgresql = dialect_name(db) == "postgresql"
    params = _params(team, day, first)
    rows = list(await db.execute(_statement(postgresql, first is not None), params))
    if not postgresql:  # no arrays: every player's readings come from a second statement
        return rows, await _chosen(db, params, [row.id for row in rows], day)
    values = [None if row.hrv_days is None else (row.hrv_days, row.hrv_ln) for row in rows]
    choose = {row.id: i for i, row in enumerate(rows) if several_a_day(values[i])}
    if choose:  # rare: a day with values of several sources needs them all to choose
        chosen = await _chosen(db, params, list(choose), day)
        for i, member_values in zip(choose.values(), chosen, strict=True):
            values[i] = member_values
    return rows, values


async def _chosen(
    db: AsyncSession, params: dict[str, Any], members: list[int], day: date
) -> list[HrvValues | None]:
    """The values that count of these players, from all their readings, in one statement."""
    if not members:
        return []
    readings: dict[int, list[hrv.StoredReading]] = defaultdict(list)
    for member, *columns in await db.execute(_readings_statement(), params | {"members": members}):
        readings[member].append(hrv.StoredReading(*columns))
    return [chosen_values(readings[member], day) for member in members]
