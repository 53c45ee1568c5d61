"""Stored ACWR: per-athlete snapshots, their state, and bringing them up to date in bulk.

Writes only mark an athlete dirty from a day (``loads.mark_acwr_dirty``); this module
recomputes from that day, starting from the stored values of the day before, so the work
is proportional to the days after it, never to the whole history. Athletes are processed
in batches that share settings and start day: one query reads the batch's daily loads,
:func:`app.services.acwr.compute_series` does the arithmetic across all of them at once,
and one bulk write (``COPY`` on PostgreSQL) stores the snapshots.
"""

import asyncio
import functools
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar, cast

import numpy as np
from sqlalchemy import (
    ARRAY,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import dialect_insert, dialect_name
from app.models import AcwrSnapshot, AcwrState, DailyLoad, LoadSource, Team, TeamMembership
from app.services.acwr import model as acwr
from app.services.platform.days import DayRange, team_zone, today

T = TypeVar("T")
BATCH_ATHLETES = 2000
Progress = Callable[[int, int], None]

# A snapshot's figures for its day, in the order the series statements return them.
VALUE_COLUMNS = (
    "load",
    "acute_ewma",
    "chronic_ewma",
    "ratio",
    "ratio_coupled",
    "ratio_uncoupled",
    "coverage",
)
SNAPSHOT_COLUMNS = ("membership_id", "source", "date", "team_id", *VALUE_COLUMNS)


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
class _State:
    """An ``acwr_state`` row as read (locked) at the start of a refresh."""

    first_activity_day: date | None
    first_load_day: date | None
    computed_through: date | None
    acute_ewma: float | None
    chronic_ewma: float | None
    dirty_from: date | None


@dataclass
class _Athlete:
    """One athlete's state while a refresh plans and runs."""

    membership_id: int
    team_id: int
    state: _State
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
    computed, _ = await _refresh(session, teams, source, membership_ids, full, progress)
    return computed


async def rebuild(
    sessionmaker: async_sessionmaker[AsyncSession],
    teams: Sequence[Team],
    source: LoadSource,
    *,
    workers: int = 2,
    progress: Progress | None = None,
) -> int:
    """Recompute every athlete of these teams from scratch (``loadline acwr recompute``).

    The teams are split among ``workers`` transactions on their own connections, so the
    database ingests one batch while Python computes the next: on two cores this overlap
    is most of the speed. Each worker commits on its own; a rebuild can simply be rerun.
    """
    groups = [list(teams[i::workers]) for i in range(workers) if teams[i::workers]]
    totals = dict.fromkeys(range(len(groups)), (0, 0))

    def report(i: int, done: int, total: int) -> None:
        totals[i] = (done, total)
        if progress is not None:
            progress(sum(d for d, _ in totals.values()), sum(t for _, t in totals.values()))

    async def run(i: int, group: list[Team]) -> int:
        async with sessionmaker.begin() as session:
            return await refresh(
                session, group, source, full=True, progress=functools.partial(report, i)
            )

    return sum(await asyncio.gather(*(run(i, g) for i, g in enumerate(groups))))


async def _refresh(
    session: AsyncSession,
    teams: Sequence[Team],
    source: LoadSource,
    membership_ids: Iterable[int] | None,
    full: bool,
    progress: Progress | None,
) -> tuple[int, list[_Athlete]]:
    by_team = {team.id: team for team in teams}
    if membership_ids is None and not full and await _teams_current(session, teams, source):
        return 0, []
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
    await _settle_idle(session, athletes, by_team, source)
    return computed, athletes


def _team_currency() -> Select[Any]:
    """Per team: active members, those computed through ``today`` and clean, and dirty
    states; built once with bound parameters (``team_id``, ``source``, ``today``)."""
    source = bindparam("source", type_=AcwrState.__table__.c.source.type)
    current = and_(AcwrState.dirty_from.is_(None), AcwrState.computed_through == bindparam("today"))
    dirty = (
        select(func.count())
        .select_from(AcwrState)
        .where(
            AcwrState.team_id == bindparam("team_id"),
            AcwrState.source == source,
            AcwrState.dirty_from.is_not(None),
        )
        .scalar_subquery()
    )
    return (
        select(
            func.count(TeamMembership.id), func.coalesce(func.sum(case((current, 1), else_=0)), 0)
        )
        .add_columns(dirty)
        .select_from(TeamMembership)
        .outerjoin(
            AcwrState,
            and_(AcwrState.membership_id == TeamMembership.id, AcwrState.source == source),
        )
        .where(TeamMembership.team_id == bindparam("team_id"), TeamMembership.active.is_(True))
    )


_TEAM_CURRENCY = _team_currency()


async def _teams_current(session: AsyncSession, teams: Sequence[Team], source: LoadSource) -> bool:
    """Whether every active member of these teams is computed through today and nobody
    is dirty: then a team-wide refresh (the roster's) reads without locking or writing."""
    for team in teams:
        params = {"team_id": team.id, "source": source, "today": today(team_zone(team))}
        members, up_to_date, dirty = (await session.execute(_TEAM_CURRENCY, params)).one()
        if members != up_to_date or dirty:
            return False
    return True


async def _lock_states(
    session: AsyncSession,
    teams: dict[int, Team],
    source: LoadSource,
    membership_ids: Iterable[int] | None,
) -> list[_Athlete]:
    """Lock the athletes' state rows (in id order) for this transaction, creating missing ones.

    The lock makes a concurrent write's dirty mark wait until this refresh has committed,
    so a mark is never cleared by a refresh that did not see its data. For named athletes
    whose rows exist (every read of a series), this is a single query.
    """
    if membership_ids is not None:
        wanted = sorted(set(membership_ids))
        athletes = await _select_states(session, teams, source, wanted)
        missing = set(wanted) - {a.membership_id for a in athletes}
        if missing:
            await _create_states(session, teams, source, sorted(missing))
            athletes += await _select_states(session, teams, source, sorted(missing))
        return sorted(athletes, key=lambda a: a.membership_id)
    active = await session.scalars(
        select(TeamMembership.id).where(
            TeamMembership.team_id.in_(list(teams)), TeamMembership.active.is_(True)
        )
    )
    dirty = await session.scalars(
        select(AcwrState.membership_id).where(
            AcwrState.source == source,
            AcwrState.team_id.in_(list(teams)),
            AcwrState.dirty_from.is_not(None),
        )
    )
    ids = sorted(set(active) | set(dirty))
    await _create_states(session, teams, source, ids)
    return await _select_states(session, teams, source, ids)


async def _create_states(
    session: AsyncSession, teams: dict[int, Team], source: LoadSource, ids: list[int]
) -> None:
    for chunk in _chunks(ids, 5000):
        members = await session.execute(
            select(TeamMembership.id, TeamMembership.team_id).where(
                TeamMembership.id.in_(chunk), TeamMembership.team_id.in_(list(teams))
            )
        )
        rows = [{"membership_id": m, "team_id": t, "source": source} for m, t in members.all()]
        if rows:
            await session.execute(
                dialect_insert(session, AcwrState).on_conflict_do_nothing(
                    index_elements=["membership_id", "source"]
                ),
                rows,
            )


async def _select_states(
    session: AsyncSession, teams: dict[int, Team], source: LoadSource, ids: list[int]
) -> list[_Athlete]:
    athletes: list[_Athlete] = []
    for chunk in _chunks(ids, 5000):
        rows = await session.execute(
            select(
                AcwrState.membership_id,
                AcwrState.team_id,
                AcwrState.first_activity_day,
                AcwrState.first_load_day,
                AcwrState.computed_through,
                AcwrState.acute_ewma,
                AcwrState.chronic_ewma,
                AcwrState.dirty_from,
            )
            .where(
                AcwrState.source == source,
                AcwrState.membership_id.in_(chunk),
                AcwrState.team_id.in_(list(teams)),
            )
            .order_by(AcwrState.membership_id)
            .with_for_update()
        )
        athletes.extend(
            _Athlete(m, t, _State(fa, fl, through, acute, chronic, dirty))
            for m, t, fa, fl, through, acute, chronic, dirty in rows.all()
        )
    return athletes


def _needs_first_days(athlete: _Athlete) -> bool:
    state = athlete.state
    if state.computed_through is None or state.first_activity_day is None:
        return True
    if state.dirty_from is None:
        athlete.first_activity, athlete.first_load = state.first_activity_day, state.first_load_day
        return False
    if state.first_load_day is None:
        return True  # the first load may have just arrived
    if state.dirty_from <= state.first_load_day:
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
        keys = [
            (a.membership_id, a.start - timedelta(days=1)) for a in chunk if a.start is not None
        ]
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
    loads, attended, rated = await _read_loads(
        session, [a.membership_id for a in athletes], window_start, batch.end, source
    )
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
        AcwrSnapshot.source == source,
        AcwrSnapshot.membership_id.in_([a.membership_id for a in athletes]),
    )
    if not batch.full:
        stale = stale.where(AcwrSnapshot.date >= batch.start)
    await session.execute(stale)
    await _drop_rows_before_new_start(session, batch.athletes, source)
    written = await _write_snapshots(session, batch, source, series)
    await _store_states(session, batch, source, series)
    return written


def _aggregate_loads(column: str) -> Any:
    return text(
        f"SELECT membership_id, array_agg(date - CAST(:start AS date)), array_agg({column}), "  # noqa: S608
        "array_agg(attended_sessions), "
        "array_agg(LEAST(rated_sessions, attended_sessions)) "
        "FROM daily_loads WHERE membership_id = ANY(:ids) "
        "AND date BETWEEN CAST(:start AS date) AND CAST(:end AS date) GROUP BY membership_id"
    ).bindparams(bindparam("ids", type_=ARRAY(Integer)))


# The load column is one of two fixed names, never input.
_AGGREGATE_LOADS = {
    LoadSource.INTERNAL: _aggregate_loads("internal_load_au"),
    LoadSource.EXTERNAL: _aggregate_loads("external_load_pl"),
}


async def _read_loads(
    session: AsyncSession, ids: list[int], start: date, end: date, source: LoadSource
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The batch's daily loads and session counts as (athletes, days) arrays.

    PostgreSQL aggregates each athlete's days into arrays, so Python handles one row per
    athlete rather than one per athlete-day.
    """
    days = (end - start).days + 1
    index = {m: i for i, m in enumerate(ids)}
    loads = np.zeros((len(ids), days))
    attended = np.zeros((len(ids), days), dtype=np.int64)
    rated = np.zeros((len(ids), days), dtype=np.int64)
    if dialect_name(session) == "postgresql":
        for chunk in _chunks(ids, 5000):
            rows = await session.execute(
                _AGGREGATE_LOADS[source],
                {"ids": list(chunk), "start": start, "end": end},
            )
            for membership_id, offsets, values, went, with_rpe in rows.all():
                i = index[membership_id]
                loads[i, offsets] = values
                attended[i, offsets] = went
                rated[i, offsets] = with_rpe
    else:
        rows = await session.execute(
            select(
                DailyLoad.membership_id,
                DailyLoad.date,
                _load_column(source),
                DailyLoad.attended_sessions,
                DailyLoad.rated_sessions,
            ).where(
                DailyLoad.membership_id.in_(ids), DailyLoad.date >= start, DailyLoad.date <= end
            )
        )
        for membership_id, day, load, went, with_rpe in rows.all():
            i, j = index[membership_id], (day - start).days
            loads[i, j], attended[i, j], rated[i, j] = load, went, min(with_rpe, went)
    if source != LoadSource.INTERNAL:
        attended[:] = rated[:] = 0  # coverage speaks of sRPE; GPS loads have none
    return loads, attended, rated


async def _drop_rows_before_new_start(
    session: AsyncSession, athletes: list[_Athlete], source: LoadSource
) -> None:
    """When an athlete's first activity moved later (its data was deleted or moved), the
    rows before it describe days that no longer have a load: remove them."""
    for athlete in athletes:
        old = athlete.state.first_activity_day
        if old is not None and athlete.first_activity is not None and athlete.first_activity > old:
            await session.execute(
                delete(AcwrSnapshot).where(
                    AcwrSnapshot.source == source,
                    AcwrSnapshot.membership_id == athlete.membership_id,
                    AcwrSnapshot.date < athlete.first_activity,
                )
            )


async def _write_snapshots(
    session: AsyncSession, batch: _Batch, source: LoadSource, series: acwr.AcwrSeries
) -> int:
    """Bulk-insert the batch's snapshots from days on which each athlete had activity.

    PostgreSQL gets one ``COPY`` per batch; SQLite an executemany.
    """
    n_athletes, n_days = series.load.shape
    offsets = np.arange(n_days)
    starts = np.array(
        [max(0, ((a.first_activity or batch.end) - batch.start).days) for a in batch.athletes]
    )
    keep = offsets[None, :] >= starts[:, None]
    if not keep.any():
        return 0
    ids = np.repeat([a.membership_id for a in batch.athletes], n_days).reshape(keep.shape)[keep]
    teams = np.repeat([a.team_id for a in batch.athletes], n_days).reshape(keep.shape)[keep]
    dates = (np.datetime64(batch.start) + np.tile(offsets, n_athletes).reshape(keep.shape))[keep]
    columns = {
        "membership_id": ids.tolist(),
        "date": dates.astype("datetime64[D]").tolist(),
        "team_id": teams.tolist(),
        "load": series.load[keep].tolist(),
        "acute_ewma": series.acute[keep].tolist(),
        "chronic_ewma": series.chronic[keep].tolist(),
        "ratio": series.ratio[keep].tolist(),
        "ratio_coupled": series.ratio_coupled[keep].tolist(),
        "ratio_uncoupled": series.ratio_uncoupled[keep].tolist(),
        "coverage": series.coverage[keep].tolist(),
    }
    if dialect_name(session) == "postgresql":
        await _copy_snapshots(session, source, columns)
    else:
        names = list(columns)
        rows = [
            {
                n: (None if isinstance(v, float) and math.isnan(v) else v)
                for n, v in zip(names, r, strict=True)
            }
            | {"source": source}
            for r in zip(*columns.values(), strict=True)
        ]
        for chunk in _chunks(rows, 5000):
            await session.execute(insert(AcwrSnapshot), list(chunk))
    return int(keep.sum())


async def _copy_snapshots(
    session: AsyncSession, source: LoadSource, columns: dict[str, list[Any]]
) -> None:
    """``COPY`` the rows in, PostgreSQL's fastest way to ingest (binary, no per-row SQL)."""
    for name in ("acute_ewma", "chronic_ewma", "ratio", "ratio_coupled", "ratio_uncoupled"):
        columns[name] = [None if value != value else value for value in columns[name]]  # NaN
    records = zip(
        columns["membership_id"],
        itertools.repeat(source.value),
        columns["date"],
        columns["team_id"],
        columns["load"],
        columns["acute_ewma"],
        columns["chronic_ewma"],
        columns["ratio"],
        columns["ratio_coupled"],
        columns["ratio_uncoupled"],
        columns["coverage"],
        strict=False,
    )
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(
        AcwrSnapshot.__tablename__, records=records, columns=SNAPSHOT_COLUMNS
    )


async def _store_states(
    session: AsyncSession, batch: _Batch, source: LoadSource, series: acwr.AcwrSeries
) -> None:
    """Record where each athlete now stands, and clear their dirty mark, in one statement."""
    last_acute, last_chronic = series.acute[:, -1].tolist(), series.chronic[:, -1].tolist()
    rows = [
        {
            "m": athlete.membership_id,
            "first_activity": athlete.first_activity,
            "first_load": athlete.first_load,
            "through": batch.end,
            "acute": None if math.isnan(acute) else acute,
            "chronic": None if math.isnan(chronic) else chronic,
        }
        for athlete, acute, chronic in zip(batch.athletes, last_acute, last_chronic, strict=True)
    ]
    await _update_states(session, source, rows)


async def _update_states(
    session: AsyncSession, source: LoadSource, rows: list[dict[str, Any]]
) -> None:
    """Set (first days, computed through, last averages) and clear ``dirty_from``."""
    if not rows:
        return
    if dialect_name(session) == "postgresql":
        await session.execute(
            _UPDATE_STATES,
            {
                "source": source.value,
                **{key: [row[key] for row in rows] for key in rows[0]},
            },
        )
        return
    table = cast(Table, AcwrState.__table__)
    await session.execute(
        update(table)
        .where(table.c.membership_id == bindparam("m"), table.c.source == source.value)
        .values(
            first_activity_day=bindparam("first_activity"),
            first_load_day=bindparam("first_load"),
            computed_through=bindparam("through"),
            acute_ewma=bindparam("acute"),
            chronic_ewma=bindparam("chronic"),
            dirty_from=None,
        ),
        rows,
    )


_UPDATE_STATES = text(
    "UPDATE acwr_state AS s SET first_activity_day = u.fa, first_load_day = u.fl, "
    "computed_through = u.th, acute_ewma = u.a, chronic_ewma = u.c, dirty_from = NULL "
    "FROM unnest(CAST(:m AS integer[]), CAST(:first_activity AS date[]), "
    "CAST(:first_load AS date[]), CAST(:through AS date[]), CAST(:acute AS float8[]), "
    "CAST(:chronic AS float8[])) AS u(m, fa, fl, th, a, c) "
    "WHERE s.membership_id = u.m AND s.source = CAST(:source AS varchar)"
)


async def _settle_idle(
    session: AsyncSession, athletes: list[_Athlete], teams: dict[int, Team], source: LoadSource
) -> None:
    """Athletes with nothing to compute: clear their marks and, with no activity, their rows."""
    idle = [a for a in athletes if a.start is None]
    emptied = [
        a.membership_id
        for a in idle
        if a.first_activity is None and a.state.first_activity_day is not None
    ]
    for chunk in _chunks(emptied, 5000):
        await session.execute(
            delete(AcwrSnapshot).where(
                AcwrSnapshot.membership_id.in_(chunk), AcwrSnapshot.source == source
            )
        )
    changed = [
        a
        for a in idle
        if a.membership_id in emptied
        or not _current(teams[a.team_id], a.state.computed_through, a.state.dirty_from)
    ]
    gone = set(emptied)
    await _update_states(
        session,
        source,
        [
            {
                "m": a.membership_id,
                "first_activity": None if a.membership_id in gone else a.state.first_activity_day,
                "first_load": None if a.membership_id in gone else a.state.first_load_day,
                "through": today(team_zone(teams[a.team_id])),
                "acute": None if a.membership_id in gone else a.state.acute_ewma,
                "chronic": None if a.membership_id in gone else a.state.chronic_ewma,
            }
            for a in changed
        ],
    )


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


POINT_FIELDS = ("date", *VALUE_COLUMNS, "zone")


@dataclass
class Series:
    """A member's ACWR points for a range, column by column: one entry per day.

    Columns rather than one object per day, because a year of points is the hot read of
    dashboards and the answer is serialised straight from these lists.
    """

    dates: list[date]
    columns: dict[str, list[Any]]

    def points(self) -> list[dict[str, Any]]:
        """One mapping per day, keyed as the ``acwr`` route answers (``POINT_FIELDS``).

        Spelled out as a literal: three times faster than zipping the keys in, per day.
        """
        c = self.columns
        return [
            {
                "date": day,
                "load": load,
                "acute_ewma": acute,
                "chronic_ewma": chronic,
                "ratio": ratio,
                "ratio_coupled": coupled,
                "ratio_uncoupled": uncoupled,
                "coverage": coverage,
                "zone": zone,
            }
            for day, load, acute, chronic, ratio, coupled, uncoupled, coverage, zone in zip(
                self.dates,
                c["load"],
                c["acute_ewma"],
                c["chronic_ewma"],
                c["ratio"],
                c["ratio_coupled"],
                c["ratio_uncoupled"],
                c["coverage"],
                c["zone"],
                strict=True,
            )
        ]


# A day before the athlete's first activity: no load, no averages, nothing uncovered.
_BEFORE_START: dict[str, Any] = {
    "load": 0.0,
    "acute_ewma": None,
    "chronic_ewma": None,
    "ratio": None,
    "ratio_coupled": None,
    "ratio_uncoupled": None,
    "coverage": 1.0,
}

# PostgreSQL: the state and the range's snapshots in one round trip, as arrays that asyncpg
# decodes in C. Built once: a year of points is read on every dashboard open.
_SERIES_PG = text(
    """
    SELECT st.first_load_day, st.computed_through, st.dirty_from, agg.*
    FROM (
        SELECT array_agg(date ORDER BY date) AS dates,
               array_agg(load ORDER BY date) AS load,
               array_agg(acute_ewma ORDER BY date) AS acute_ewma,
               array_agg(chronic_ewma ORDER BY date) AS chronic_ewma,
               array_agg(ratio ORDER BY date) AS ratio,
               array_agg(ratio_coupled ORDER BY date) AS ratio_coupled,
               array_agg(ratio_uncoupled ORDER BY date) AS ratio_uncoupled,
               array_agg(coverage ORDER BY date) AS coverage
        FROM load_acwr
        WHERE membership_id = :m AND source = :source
          AND date BETWEEN CAST(:start AS date) AND CAST(:end AS date)
    ) AS agg
    LEFT OUTER JOIN acwr_state AS st ON st.membership_id = :m AND st.source = :source
    """
)
_SNAPSHOTS = select(
    AcwrSnapshot.date, *(getattr(AcwrSnapshot, name) for name in VALUE_COLUMNS)
).where(
    AcwrSnapshot.membership_id == bindparam("m"),
    AcwrSnapshot.source == bindparam("source"),
    AcwrSnapshot.date >= bindparam("start"),
    AcwrSnapshot.date <= bindparam("end"),
)
_STATE = select(AcwrState.first_load_day, AcwrState.computed_through, AcwrState.dirty_from).where(
    AcwrState.membership_id == bindparam("m"), AcwrState.source == bindparam("source")
)


async def series(
    session: AsyncSession, team: Team, membership_id: int, source: LoadSource, days: DayRange
) -> Series:
    """The member's points for the range, after bringing their snapshots up to date.

    The common case (the athlete is current) is one statement on PostgreSQL and writes
    nothing; otherwise the athlete is refreshed (locking and recomputing) and read again.
    """
    if dialect_name(session) == "postgresql":
        first_load, stored_days, stored = await _read_series_pg(
            session, team, membership_id, source, days
        )
    else:
        first_load = await _current_first_load(session, team, membership_id, source)
        stored_days, stored = await _read_snapshots(session, membership_id, source, days)
    if len(stored_days) == days.length():  # every day stored: the athlete started before
        dates, columns = stored_days, dict(zip(VALUE_COLUMNS, stored, strict=True))
    else:
        dates, columns = days.days(), _fill(days, stored_days, stored)
    columns["zone"] = zones_of(
        params_of(team), first_load, dates, columns["ratio"], columns["coverage"]
    )
    return Series(dates, columns)


async def _read_series_pg(
    session: AsyncSession, team: Team, membership_id: int, source: LoadSource, days: DayRange
) -> tuple[date | None, list[date], list[list[Any]]]:
    params = {"m": membership_id, "source": source.name, "start": days.start, "end": days.end}
    row = (await session.execute(_SERIES_PG, params)).one()
    first_load, through, dirty = row[0], row[1], row[2]
    if not _current(team, through, dirty):
        _, athletes = await _refresh(session, [team], source, [membership_id], False, None)
        row = (await session.execute(_SERIES_PG, params)).one()
        first_load = athletes[0].first_load if athletes else None
    return first_load, row[3] or [], [column or [] for column in row[4:]]


def _current(team: Team, computed_through: date | None, dirty_from: date | None) -> bool:
    """Whether an athlete's stored snapshots answer as they are: computed through the
    team's today and not marked dirty by a write since (else a read refreshes first)."""
    return dirty_from is None and computed_through == today(team_zone(team))


async def _read_snapshots(
    session: AsyncSession, membership_id: int, source: LoadSource, days: DayRange
) -> tuple[list[date], list[list[Any]]]:
    params = {"m": membership_id, "source": source, "start": days.start, "end": days.end}
    rows = (await session.execute(_SNAPSHOTS, params)).all()
    return [row[0] for row in rows], [
        [row[i] for row in rows] for i in range(1, len(VALUE_COLUMNS) + 1)
    ]


def _fill(days: DayRange, stored_days: list[date], stored: list[list[Any]]) -> dict[str, list[Any]]:
    """Full-length columns: the stored values on their days, before-start values elsewhere."""
    offsets = [(day - days.start).days for day in stored_days]
    columns: dict[str, list[Any]] = {}
    for name, values in zip(VALUE_COLUMNS, stored, strict=True):
        column = [_BEFORE_START[name]] * days.length()
        for offset, value in zip(offsets, values, strict=True):
            column[offset] = value
        columns[name] = column
    return columns


async def _current_first_load(
    session: AsyncSession, team: Team, membership_id: int, source: LoadSource
) -> date | None:
    """The athlete's first load day, after making sure their snapshots are current.

    Reads the state without a lock first: when it is clean and up to today (the common
    case), nothing is written and the read stays a plain read. Otherwise it refreshes,
    which locks and recomputes.
    """
    row = (await session.execute(_STATE, {"m": membership_id, "source": source})).first()
    if row is not None and _current(team, row[1], row[2]):
        return row[0]
    _, athletes = await _refresh(session, [team], source, [membership_id], False, None)
    return athletes[0].first_load if athletes else None


def zones_of(
    params: acwr.AcwrParams,
    first_load_day: date | None,
    days: Sequence[date],
    ratios: Sequence[float | None],
    coverages: Sequence[float],
) -> list[str]:
    """Zones of stored points, by the one rule of :func:`app.services.acwr.zone`."""
    if first_load_day is None:
        since = np.zeros(len(days), dtype=np.int64)
    elif days and (days[-1] - days[0]).days == len(days) - 1:  # consecutive: a series
        since = np.arange(len(days), dtype=np.int64) + ((days[0] - first_load_day).days + 1)
    else:
        offsets = np.array(days, dtype="datetime64[D]") - np.datetime64(first_load_day, "D")
        since = offsets.astype(np.int64) + 1
    labels = acwr.zone(
        np.array(ratios, dtype=np.float64),  # None becomes NaN
        since,
        np.array(coverages, dtype=np.float64),
        params.chronic_days,
        params.low,
        params.high,
        params.danger,
    )
    zones: list[str] = labels.tolist()
    return zones


async def recompute_team(session: AsyncSession, team: Team) -> int:
    """After a settings change: every member of the team, active or not, from the start.

    Goes through :func:`refresh`, which locks state rows in member order like every
    other writer, so this cannot deadlock with them.
    """
    members = list(
        await session.scalars(select(TeamMembership.id).where(TeamMembership.team_id == team.id))
    )
    computed = 0
    for source in LoadSource:
        computed += await refresh(session, [team], source, membership_ids=members, full=True)
    return computed
