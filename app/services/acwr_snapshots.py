"""Stored ACWR: per-athlete snapshots, their state, and bringing them up to date in bulk.

Writes only mark an athlete dirty from a day (``loads.mark_acwr_dirty``); this module
recomputes from that day, starting from the stored values of the day before, so the work
is proportional to the days after it, never to the whole history. Athletes are processed
in batches that share settings and start day: one query reads the batch's daily loads,
:func:`app.services.acwr.compute_series` does the arithmetic across all of them at once,
and one bulk write (``COPY`` on PostgreSQL) stores the snapshots.
"""

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import delete, func, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_insert, dialect_name
from app.models import AcwrSnapshot, AcwrState, DailyLoad, LoadSource, Team, TeamMembership
from app.services import acwr
from app.services.days import DayRange, team_zone, today

T = TypeVar("T")
BATCH_ATHLETES = 2000
Progress = Callable[[int, int], None]

SNAPSHOT_COLUMNS = (
    "membership_id",
    "source",
    "date",
    "team_id",
    "load",
    "acute_ewma",
    "chronic_ewma",
    "ratio",
    "ratio_coupled",
    "ratio_uncoupled",
    "coverage",
)


def params_of(team: Team) -> acwr.AcwrParams:
    return acwr.AcwrParams(
        method=team.acwr_method.value,
        acute_days=team.acwr_acute_days,
        chronic_days=team.acwr_chronic_days,
        low=team.acwr_low,
        high=team.acwr_high,
        danger=team.acwr_danger,
    )


def _load_column(source: LoadSource) -> Any:
    if source == LoadSource.INTERNAL:
        return DailyLoad.internal_load_au
    return DailyLoad.external_load_pl


@dataclass
class _Athlete:
    """One athlete's state while a refresh plans and runs."""

    membership_id: int
    team_id: int
    state: AcwrState
    first_activity: date | None = None
    first_load: date | None = None
    start: date | None = None
    prev: tuple[float, float] | None = None


@dataclass
class _Batch:
    params: acwr.AcwrParams
    start: date
    end: date
    athletes: list[_Athlete] = field(default_factory=list)
    full: bool = False


async def refresh(
    session: AsyncSession,
    teams: Sequence[Team],
    source: LoadSource,
    *,
    membership_ids: Iterable[int] | None = None,
    full: bool = False,
    progress: Progress | None = None,
) -> int:
    """Bring athletes' snapshots up to today (in each team's zone); returns athlete-days computed.

    ``membership_ids`` limits the work to those athletes (default: every active member of
    the teams, plus anyone marked dirty). ``full`` recomputes from each athlete's first day.
    An athlete that is neither dirty nor behind is left alone, so calling this is cheap.
    """
    by_team = {team.id: team for team in teams}
    athletes = await _lock_states(session, by_team, source, membership_ids)
    await _read_first_days(session, [a for a in athletes if full or _needs_first_days(a)], source)
    batches = await _plan(session, athletes, by_team, source, full)
    total = sum(len(b.athletes) for b in batches)
    done = computed = 0
    for batch in batches:
        computed += await _compute(session, batch, source)
        done += len(batch.athletes)
        if progress is not None:
            progress(done, total)
    await _settle_idle(session, athletes, by_team)
    return computed


async def _lock_states(
    session: AsyncSession,
    teams: dict[int, Team],
    source: LoadSource,
    membership_ids: Iterable[int] | None,
) -> list[_Athlete]:
    """Create missing state rows, then lock them all (in id order) for this transaction.

    The lock makes a concurrent write's dirty mark wait until this refresh has committed,
    so a mark is never cleared by a refresh that did not see its data.
    """
    members = select(TeamMembership.id, TeamMembership.team_id).where(
        TeamMembership.team_id.in_(list(teams))
    )
    if membership_ids is not None:
        members = members.where(TeamMembership.id.in_(list(membership_ids)))
    else:
        members = members.where(TeamMembership.active.is_(True))
    wanted = (await session.execute(members)).all()
    if wanted:
        await session.execute(
            dialect_insert(session, AcwrState)
            .values(
                [{"membership_id": m, "team_id": t, "source": source} for m, t in sorted(wanted)]
            )
            .on_conflict_do_nothing(index_elements=["membership_id", "source"])
        )
    condition: Any = AcwrState.membership_id.in_([m for m, _ in wanted])
    if membership_ids is None:
        condition = or_(
            condition,
            AcwrState.team_id.in_(list(teams)) & AcwrState.dirty_from.is_not(None),
        )
    states = await session.scalars(
        select(AcwrState)
        .where(AcwrState.source == source, condition)
        .order_by(AcwrState.membership_id)
        .with_for_update()
    )
    return [_Athlete(s.membership_id, s.team_id, s) for s in states]


def _needs_first_days(athlete: _Athlete) -> bool:
    state = athlete.state
    if state.computed_through is None or state.first_activity_day is None:
        return True
    if state.dirty_from is None:
        athlete.first_activity, athlete.first_load = state.first_activity_day, state.first_load_day
        return False
    earliest = state.first_load_day or state.first_activity_day
    if state.dirty_from <= earliest:
        return True
    athlete.first_activity, athlete.first_load = state.first_activity_day, state.first_load_day
    return False


async def _read_first_days(
    session: AsyncSession, athletes: list[_Athlete], source: LoadSource
) -> None:
    """Each athlete's first day with any activity and first day with a load, in one query."""
    if not athletes:
        return
    column = _load_column(source)
    activity: Any = column > 0
    if source == LoadSource.INTERNAL:
        activity = or_(activity, DailyLoad.attended_sessions > 0)
    by_id = {a.membership_id: a for a in athletes}
    for chunk in _chunks(list(by_id), 5000):
        rows = await session.execute(
            select(
                DailyLoad.membership_id,
                func.min(DailyLoad.date).filter(activity),
                func.min(DailyLoad.date).filter(column > 0),
            )
            .where(DailyLoad.membership_id.in_(chunk))
            .group_by(DailyLoad.membership_id)
        )
        for membership_id, first_activity, first_load in rows.all():
            by_id[membership_id].first_activity = first_activity
            by_id[membership_id].first_load = first_load


async def _plan(
    session: AsyncSession,
    athletes: list[_Athlete],
    teams: dict[int, Team],
    source: LoadSource,
    full: bool,
) -> list[_Batch]:
    """Decide each athlete's start day and previous values; group them into batches."""
    needs_prev: list[_Athlete] = []
    for athlete in athletes:
        state = athlete.state
        end = today(team_zone(teams[athlete.team_id]))
        if athlete.first_activity is None:
            continue
        start = athlete.first_activity
        if not full and state.computed_through is not None:
            resume = state.computed_through + timedelta(days=1)
            if state.dirty_from is not None:
                resume = min(resume, state.dirty_from)
            start = max(start, resume)
        if start > end:
            continue
        athlete.start = start
        if athlete.first_load is not None and athlete.first_load < start:
            if state.computed_through == start - timedelta(days=1) and state.acute_ewma is not None:
                athlete.prev = (state.acute_ewma, state.chronic_ewma or 0.0)
            else:
                needs_prev.append(athlete)
    await _read_prev(session, needs_prev, source)

    groups: dict[tuple[acwr.AcwrParams, date | None, date], list[_Athlete]] = defaultdict(list)
    for athlete in athletes:
        if athlete.start is None:
            continue
        if (
            athlete.first_load is not None
            and athlete.first_load < athlete.start
            and not athlete.prev
        ):
            athlete.start = athlete.first_activity  # no stored values to resume from
        team = teams[athlete.team_id]
        # A full run needs no stored values, so athletes of any start share a batch.
        key = (params_of(team), None if full else athlete.start, today(team_zone(team)))
        groups[key].append(athlete)
    batches = []
    for (params, _, end), members in groups.items():
        for chunk in _chunks(members, BATCH_ATHLETES):
            start = min(a.start or end for a in chunk)
            batches.append(_Batch(params, start, end, list(chunk), full))
    return sorted(batches, key=lambda b: b.start)


async def _read_prev(session: AsyncSession, athletes: list[_Athlete], source: LoadSource) -> None:
    """Stored averages of the day before each athlete's start, one query per chunk."""
    for chunk in _chunks(athletes, 5000):
        keys = [(a.membership_id, (a.start or date.min) - timedelta(days=1)) for a in chunk]
        rows = await session.execute(
            select(
                AcwrSnapshot.membership_id,
                AcwrSnapshot.acute_ewma,
                AcwrSnapshot.chronic_ewma,
            ).where(
                AcwrSnapshot.source == source,
                tuple_(AcwrSnapshot.membership_id, AcwrSnapshot.date).in_(keys),
            )
        )
        found = {m: (a, c) for m, a, c in rows.all() if a is not None and c is not None}
        for athlete in chunk:
            athlete.prev = found.get(athlete.membership_id)


async def _compute(session: AsyncSession, batch: _Batch, source: LoadSource) -> int:
    """Recompute one batch from its start day to its end day and store the snapshots."""
    params, athletes = batch.params, batch.athletes
    history = params.chronic_days - 1
    window_start = batch.start - timedelta(days=history)
    days = (batch.end - window_start).days + 1
    index = {a.membership_id: i for i, a in enumerate(athletes)}
    loads = np.zeros((len(athletes), days))
    attended = np.zeros((len(athletes), days), dtype=np.int64)
    rated = np.zeros((len(athletes), days), dtype=np.int64)
    column = _load_column(source)
    for chunk in _chunks(list(index), 5000):
        rows = await session.execute(
            select(
                DailyLoad.membership_id,
                DailyLoad.date,
                column,
                DailyLoad.attended_sessions,
                DailyLoad.rated_sessions,
            ).where(
                DailyLoad.membership_id.in_(chunk),
                DailyLoad.date >= window_start,
                DailyLoad.date <= batch.end,
            )
        )
        for membership_id, day, load, went, with_rpe in rows.all():
            i, j = index[membership_id], (day - window_start).days
            loads[i, j] = load
            if source == LoadSource.INTERNAL:
                attended[i, j], rated[i, j] = went, min(with_rpe, went)

    first = np.array(
        [
            (a.first_load - window_start).days if a.first_load is not None else acwr.NO_D0
            for a in athletes
        ],
        dtype=np.int64,
    )
    prev_acute = np.array([a.prev[0] if a.prev else np.nan for a in athletes])
    prev_chronic = np.array([a.prev[1] if a.prev else np.nan for a in athletes])
    series = acwr.compute_series(
        loads, first, attended, rated, params, history, prev_acute, prev_chronic
    )
    stale = delete(AcwrSnapshot).where(
        AcwrSnapshot.source == source, AcwrSnapshot.membership_id.in_(list(index))
    )
    if not batch.full:
        stale = stale.where(AcwrSnapshot.date >= batch.start)
    await session.execute(stale)
    written = await _write_snapshots(session, batch, source, series)
    await _store_states(session, batch, series)
    return written


def _nullable(values: np.ndarray[Any, Any]) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values.tolist()]


async def _write_snapshots(
    session: AsyncSession, batch: _Batch, source: LoadSource, series: acwr.AcwrSeries
) -> int:
    """Bulk-insert the batch's snapshots: ``COPY`` on PostgreSQL, executemany on SQLite."""
    n_days = series.load.shape[1]
    dates = [batch.start + timedelta(days=j) for j in range(n_days)]
    records: list[tuple[Any, ...]] = []
    for i, athlete in enumerate(batch.athletes):
        assert athlete.first_activity is not None
        skip = max(0, (athlete.first_activity - batch.start).days)
        span = slice(skip, n_days)
        records.extend(
            zip(
                [athlete.membership_id] * (n_days - skip),
                [source.value] * (n_days - skip),
                dates[span],
                [athlete.team_id] * (n_days - skip),
                series.load[i, span].tolist(),
                _nullable(series.acute[i, span]),
                _nullable(series.chronic[i, span]),
                _nullable(series.ratio[i, span]),
                _nullable(series.ratio_coupled[i, span]),
                _nullable(series.ratio_uncoupled[i, span]),
                series.coverage[i, span].tolist(),
                strict=True,
            )
        )
    if not records:
        return 0
    if dialect_name(session) == "postgresql":
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            AcwrSnapshot.__tablename__, records=records, columns=SNAPSHOT_COLUMNS
        )
    else:
        for chunk in _chunks(records, 20000):
            await session.execute(
                insert(AcwrSnapshot), [dict(zip(SNAPSHOT_COLUMNS, r, strict=True)) for r in chunk]
            )
    return len(records)


async def _store_states(session: AsyncSession, batch: _Batch, series: acwr.AcwrSeries) -> None:
    """Record where each athlete now stands, and clear their dirty mark."""
    for i, athlete in enumerate(batch.athletes):
        state = athlete.state
        state.first_activity_day = athlete.first_activity
        state.first_load_day = athlete.first_load
        state.computed_through = batch.end
        last_acute, last_chronic = series.acute[i, -1], series.chronic[i, -1]
        state.acute_ewma = None if math.isnan(last_acute) else float(last_acute)
        state.chronic_ewma = None if math.isnan(last_chronic) else float(last_chronic)
        state.dirty_from = None
    await session.flush()


async def _settle_idle(
    session: AsyncSession, athletes: list[_Athlete], teams: dict[int, Team]
) -> None:
    """Athletes with nothing to compute: clear their marks and, with no activity, their rows."""
    for athlete in athletes:
        if athlete.start is not None:
            continue
        state = athlete.state
        if athlete.first_activity is None and state.first_activity_day is not None:
            await session.execute(
                delete(AcwrSnapshot).where(
                    AcwrSnapshot.membership_id == athlete.membership_id,
                    AcwrSnapshot.source == state.source,
                )
            )
            state.first_activity_day = state.first_load_day = None
            state.acute_ewma = state.chronic_ewma = None
        state.computed_through = today(team_zone(teams[athlete.team_id]))
        state.dirty_from = None
    await session.flush()


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True)
class Point:
    """One day of a member's ACWR series, as the ``acwr`` route answers it."""

    date: date
    load: float
    acute_ewma: float | None
    chronic_ewma: float | None
    ratio: float | None
    ratio_coupled: float | None
    ratio_uncoupled: float | None
    coverage: float
    zone: str


async def series(
    session: AsyncSession, team: Team, membership_id: int, source: LoadSource, days: DayRange
) -> list[Point]:
    """The member's points for the range, after bringing their snapshots up to date."""
    await refresh(session, [team], source, membership_ids=[membership_id])
    state = await session.get_one(AcwrState, (membership_id, source))
    stored = {
        s.date: s
        for s in await session.scalars(
            select(AcwrSnapshot).where(
                AcwrSnapshot.membership_id == membership_id,
                AcwrSnapshot.source == source,
                AcwrSnapshot.date >= days.start,
                AcwrSnapshot.date <= days.end,
            )
        )
    }
    all_days = days.days()
    snaps = [stored.get(day) for day in all_days]
    zones = zones_of(
        params_of(team),
        state.first_load_day,
        all_days,
        [s.ratio if s else None for s in snaps],
        [s.coverage if s else 1.0 for s in snaps],
    )
    return [
        Point(
            day,
            s.load,
            s.acute_ewma,
            s.chronic_ewma,
            s.ratio,
            s.ratio_coupled,
            s.ratio_uncoupled,
            s.coverage,
            label,
        )
        if s is not None
        else Point(day, 0.0, None, None, None, None, None, 1.0, label)
        for day, s, label in zip(all_days, snaps, zones, strict=True)
    ]


def zones_of(
    params: acwr.AcwrParams,
    first_load_day: date | None,
    days: Sequence[date],
    ratios: Sequence[float | None],
    coverages: Sequence[float],
) -> list[str]:
    """Zones of stored points, by the one rule of :func:`app.services.acwr.zone`."""
    since = [(d - first_load_day).days + 1 if first_load_day else 0 for d in days]
    labels = acwr.zone(
        np.array([np.nan if r is None else r for r in ratios], dtype=np.float64),
        np.array(since, dtype=np.int64),
        np.array(coverages, dtype=np.float64),
        params.chronic_days,
        params.low,
        params.high,
        params.danger,
    )
    return [str(label) for label in labels]


async def mark_team_dirty(session: AsyncSession, team_id: int) -> None:
    """After a settings change: every athlete of the team is recomputed from the start."""
    await session.execute(
        update(AcwrState)
        .where(AcwrState.team_id == team_id)
        .values(dirty_from=date.min, computed_through=None)
    )
