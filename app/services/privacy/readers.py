"""The rows of each exported file of one membership, read in chunks (never a whole table
in memory): a member with years of data streams through a few hundred rows at a time.

Each reader yields the cells of one CSV row in the order of its file's columns in
:mod:`app.services.privacy.catalogue`, or one JSON item. The values are the API's own:
the same scoring, zones, HRV series and problem answers as the routes that show them.
"""

from collections.abc import AsyncIterator, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    AcwrSnapshot,
    AcwrState,
    Attendance,
    DailyHRV,
    DailyLoad,
    ExternalLoad,
    LinkedDevice,
    LoadSource,
    OstrcAnswer,
    SessionRPE,
    TeamMembership,
    TrainingSession,
    WellnessLog,
)
from app.schemas.devices import Device
from app.services.acwr.stored import VALUE_COLUMNS, params_of, zones_of
from app.services.audit import service as audit
from app.services.health import problems, rules
from app.services.hrv import series as hrv_series
from app.services.platform.days import DayRange
from app.services.teams.access import MemberAccess, TeamAccess
from app.services.wellness import scoring

CHUNK_ROWS = 500  # rows fetched per round trip
HRV_CHUNK_DAYS = 120  # days of the HRV series computed at once (plus 60 before each)
PROBLEMS_PAGE = 100

Row = Sequence[Any]


async def _rows(db: AsyncSession, query: Select[*tuple[Any, ...]]) -> AsyncIterator[Any]:
    """The query's rows, fetched ``CHUNK_ROWS`` at a time (a server-side cursor on
    PostgreSQL), so that memory does not grow with the member's history."""
    result = await db.stream(query.execution_options(yield_per=CHUNK_ROWS))
    async for row in result:
        yield row


async def wellness(db: AsyncSession, m: TeamMembership) -> AsyncIterator[Row]:
    items = [getattr(WellnessLog, item) for item in scoring.ITEMS]
    query = (
        select(WellnessLog.id, WellnessLog.date, *items, WellnessLog.notes)
        .where(WellnessLog.membership_id == m.id)
        .order_by(WellnessLog.date)
    )
    chunk: list[Any] = []
    recent: dict[date, scoring.Values] = {}  # the entries of the window before the chunk
    async for row in _rows(db, query):
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            for assessed in _assessed_wellness(chunk, recent):
                yield assessed
            chunk = []
    for assessed in _assessed_wellness(chunk, recent):
        yield assessed


def _assessed_wellness(chunk: list[Any], recent: dict[date, scoring.Values]) -> list[Row]:
    """The chunk's entries (oldest first) with the flag and reason the API gives them, each
    against its own 28 days before (:func:`scoring.assess_days`, as ``GET .../wellness``);
    ``recent`` carries the last window from chunk to chunk, so memory stays bounded."""
    if not chunk:
        return []
    history = recent | {row.date: list(row[2:7]) for row in chunk}
    assessments = scoring.assess_days(history, [row.date for row in chunk])
    last = chunk[-1].date
    recent.clear()
    recent.update({day: v for day, v in history.items() if (last - day).days < scoring.WINDOW_DAYS})
    return [
        (row.id, row.date, *row[2:7], row.notes, a.total, a.flag, a.reason)
        for row, a in zip(chunk, assessments, strict=True)
    ]


async def srpe(db: AsyncSession, m: TeamMembership) -> AsyncIterator[Row]:
    query = (
        select(
            SessionRPE.id,
            SessionRPE.session_id,
            TrainingSession.day,
            TrainingSession.title,
            SessionRPE.rpe_0_10,
            SessionRPE.duration_min,
            SessionRPE.load_au,
        )
        .join(TrainingSession, TrainingSession.id == SessionRPE.session_id)
        .where(SessionRPE.membership_id == m.id)
        .order_by(TrainingSession.day, SessionRPE.session_id)
    )
    async for row in _rows(db, query):
        yield tuple(row)


async def attendance(db: AsyncSession, m: TeamMembership) -> AsyncIterator[Row]:
    query = (
        select(
            Attendance.session_id,
            TrainingSession.day,
            TrainingSession.title,
            Attendance.status,
            Attendance.minutes_participated,
        )
        .join(TrainingSession, TrainingSession.id == Attendance.session_id)
        .where(Attendance.membership_id == m.id)
        .order_by(TrainingSession.day, Attendance.session_id)
    )
    async for row in _rows(db, query):
        yield (row[0], row[1], row[2], row[3].value, row[4])


async def daily_loads(db: AsyncSession, m: TeamMembership) -> AsyncIterator[Row]:
    query = (
        select(DailyLoad.date, DailyLoad.internal_load_au, DailyLoad.external_load_pl)
        .where(DailyLoad.membership_id == m.id)
        .order_by(DailyLoad.date)
    )
    async for row in _rows(db, query):
        yield tuple(row)


async def external_loads(db: AsyncSession, m: TeamMembership) -> AsyncIterator[Row]:
    query = (
        select(
            ExternalLoad.id,
            ExternalLoad.date,
            ExternalLoad.source,
            ExternalLoad.player_load,
            ExternalLoad.distance_m,
            ExternalLoad.hsr_m,
            ExternalLoad.sprints,
        )
        .where(ExternalLoad.membership_id == m.id)
        .order_by(ExternalLoad.date, ExternalLoad.id)
    )
    async for row in _rows(db, query):
        yield (row[0], row[1], row[2].value, *row[3:])


async def acwr(db: AsyncSession, m: TeamMembership) -> AsyncIterator[Row]:
    """The stored snapshots (brought up to date by the export's request), with the zone
    of each by the team's settings, computed a chunk at a time as the route does."""
    params = params_of(m.team)
    for source in LoadSource:
        first_load = await db.scalar(
            select(AcwrState.first_load_day).where(
                AcwrState.membership_id == m.id, AcwrState.source == source
            )
        )
        values = [getattr(AcwrSnapshot, name) for name in VALUE_COLUMNS]
        query = (
            select(AcwrSnapshot.date, *values)
            .where(AcwrSnapshot.membership_id == m.id, AcwrSnapshot.source == source)
            .order_by(AcwrSnapshot.date)
            .execution_options(yield_per=CHUNK_ROWS)
        )
        result = await db.stream(query)
        async for chunk in result.partitions():
            days = [row[0] for row in chunk]
            ratios = [row[1 + VALUE_COLUMNS.index("ratio")] for row in chunk]
            coverages = [row[1 + VALUE_COLUMNS.index("coverage")] for row in chunk]
            zones = zones_of(params, first_load, days, ratios, coverages)
            for row, zone in zip(chunk, zones, strict=True):
                yield (source.value, *row, zone)


async def hrv(db: AsyncSession, m: TeamMembership) -> AsyncIterator[Row]:
    """The API's HRV series (one value per day, rolling mean, baseline, flag) on the days
    that have a value, computed ``HRV_CHUNK_DAYS`` at a time."""
    bounds = (
        await db.execute(
            select(func.min(DailyHRV.date), func.max(DailyHRV.date)).where(
                DailyHRV.membership_id == m.id
            )
        )
    ).one()
    first: date | None = bounds[0]
    last: date | None = bounds[1]
    if first is None or last is None:
        return
    start = first
    while start <= last:
        end = min(start + timedelta(days=HRV_CHUNK_DAYS - 1), last)
        for day in await hrv_series.series(db, m.id, DayRange(start, end)):
            if day.rmssd_ms is not None:
                yield (
                    day.date,
                    day.rmssd_ms,
                    day.ln_rmssd,
                    day.rolling7_ln_mean,
                    day.baseline_ln_mean,
                    day.baseline_ln_sd,
                    day.flag,
                )
        start = end + timedelta(days=1)


async def ostrc(db: AsyncSession, m: TeamMembership) -> AsyncIterator[Row]:
    query = (
        select(
            OstrcAnswer.id,
            OstrcAnswer.week,
            OstrcAnswer.q1,
            OstrcAnswer.q2,
            OstrcAnswer.q3,
            OstrcAnswer.q4,
            OstrcAnswer.problem_id,
        )
        .where(OstrcAnswer.membership_id == m.id)
        .order_by(OstrcAnswer.week_monday, OstrcAnswer.id)
    )
    async for row in _rows(db, query):
        answer_id, week, q1, q2, q3, q4, problem_id = row
        severity = rules.ostrc_severity(q1, q2, q3, q4)
        substantial = rules.ostrc_substantial(q1, q2, q3)
        yield (answer_id, week, q1, q2, q3, q4, severity, substantial, problem_id)


def _as_athlete(m: TeamMembership) -> MemberAccess:
    """The member's data as the athlete reads it themselves (clinical fields included):
    an export is the athlete's copy, whoever asked for it on their behalf."""
    own = TeamAccess(
        m.team,
        m.user,
        m,
        is_staff=False,
        is_owner=False,
        is_coaching_staff=False,
        is_medical=False,
    )
    return MemberAccess(m, own)


async def health_problems(db: AsyncSession, m: TeamMembership) -> AsyncIterator[dict[str, Any]]:
    """The problems as ``GET .../health-problems?status=all`` answers the athlete, a page
    at a time (the read sees one snapshot, so the pages cannot shift)."""
    member = _as_athlete(m)
    offset = 0
    while True:
        views = await problems.problems_of(
            db, member, open_only=False, limit=PROBLEMS_PAGE, offset=offset
        )
        for view in views:
            yield problems.answer(view).model_dump(mode="json", by_alias=True)
        if len(views) < PROBLEMS_PAGE:
            return
        offset += PROBLEMS_PAGE


async def devices(db: AsyncSession, m: TeamMembership) -> AsyncIterator[dict[str, Any]]:
    """Linked devices as the API shows them: no column holding a token is even read."""
    query = (
        select(
            LinkedDevice.id,
            LinkedDevice.provider,
            LinkedDevice.external_user_id,
            LinkedDevice.status,
            LinkedDevice.linked_at,
        )
        .where(LinkedDevice.membership_id == m.id)
        .order_by(LinkedDevice.id)
    )
    async for row in _rows(db, query):
        yield Device.model_validate(row._asdict()).model_dump(mode="json")


async def audit_entries(db: AsyncSession, m: TeamMembership) -> AsyncIterator[Row]:
    query = audit.entries_query(membership_ids=[m.id]).execution_options(yield_per=CHUNK_ROWS)
    result = await db.stream_scalars(query)
    async for entry in result:
        yield (
            entry.id,
            entry.at.isoformat(),
            entry.actor_user_id,
            entry.action.value,
            entry.resource.value,
            entry.team_id,
            entry.membership_id,
            entry.resource_id,
            entry.request_id,
        )
