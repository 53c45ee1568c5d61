"""One batch of athletes recomputed together, and the state each athlete carries through it.

A batch's athletes share settings and end day (and their start day, unless the batch
recomputes them from their first day). :func:`compute_batch` reads the batch's daily loads in
one query (arrays aggregated per athlete on PostgreSQL), lets
:func:`app.services.acwr.model.compute_series` do the arithmetic across all of them at once,
replaces their snapshots from the start day with one bulk write (``COPY`` on PostgreSQL, an
executemany on SQLite) and records where each athlete now stands in ``acwr_state``, clearing
their dirty mark. Planning the batches is :mod:`app.services.acwr.engine`'s job.
"""

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar, cast

import numpy as np
from sqlalchemy import ARRAY, Integer, Table, bindparam, delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_name
from app.models import AcwrSnapshot, AcwrState, DailyLoad, LoadSource
from app.services.acwr import model as acwr
from app.services.acwr.stored import VALUE_COLUMNS

T = TypeVar("T")
SNAPSHOT_COLUMNS = ("membership_id", "source", "date", "team_id", *VALUE_COLUMNS)


def load_column(source: LoadSource) -> Any:
    """The daily-load column of a source: sRPE load (AU) or GPS PlayerLoad."""
    if source == LoadSource.INTERNAL:
        return DailyLoad.internal_load_au
    return DailyLoad.external_load_pl


@dataclass
class StateRow:
    """An ``acwr_state`` row as read (locked) at the start of a refresh."""

    first_activity_day: date | None
    first_load_day: date | None
    computed_through: date | None
    acute_ewma: float | None
    chronic_ewma: float | None
    dirty_from: date | None


@dataclass
class Athlete:
    """One athlete's state while a refresh plans and runs."""

    membership_id: int
    team_id: int
    state: StateRow
    first_activity: date | None = None
    first_load: date | None = None
    start: date | None = None
    prev: tuple[float, float] | None = None


@dataclass
class Batch:
    """Athletes computed together, from ``start`` to ``end`` (the team's today)."""

    params: acwr.AcwrParams
    start: date
    end: date
    athletes: list[Athlete] = field(default_factory=list)
    full: bool = False


async def compute_batch(db: AsyncSession, batch: Batch, source: LoadSource) -> int:
    """Recompute one batch from its start day to its end day and store the snapshots."""
    params, athletes = batch.params, batch.athletes
    history = params.chronic_days - 1
    window_start = batch.start - timedelta(days=history)
    loads, attended, rated = await _read_loads(
        db, [a.membership_id for a in athletes], window_start, batch.end, source
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
    await db.execute(stale)
    await _drop_rows_before_new_start(db, batch.athletes, source)
    written = await _write_snapshots(db, batch, source, series)
    await _store_states(db, batch, source, series)
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
    db: AsyncSession, ids: list[int], start: date, end: date, source: LoadSource
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
    if dialect_name(db) == "postgresql":
        for chunk in chunks(ids, 5000):
            rows = await db.execute(
                _AGGREGATE_LOADS[source],
                {"ids": list(chunk), "start": start, "end": end},
            )
            for membership_id, offsets, values, went, with_rpe in rows.all():
                i = index[membership_id]
                loads[i, offsets] = values
                attended[i, offsets] = went
                rated[i, offsets] = with_rpe
    else:
        rows = await db.execute(
            select(
                DailyLoad.membership_id,
                DailyLoad.date,
                load_column(source),
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
    db: AsyncSession, athletes: list[Athlete], source: LoadSource
) -> None:
    """When an athlete's first activity moved later (its data was deleted or moved), the
    rows before it describe days that no longer have a load: remove them."""
    for athlete in athletes:
        old = athlete.state.first_activity_day
        if old is not None and athlete.first_activity is not None and athlete.first_activity > old:
            await db.execute(
                delete(AcwrSnapshot).where(
                    AcwrSnapshot.source == source,
                    AcwrSnapshot.membership_id == athlete.membership_id,
                    AcwrSnapshot.date < athlete.first_activity,
                )
            )


async def _write_snapshots(
    db: AsyncSession, batch: Batch, source: LoadSource, series: acwr.AcwrSeries
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
    if dialect_name(db) == "postgresql":
        await _copy_snapshots(db, source, columns)
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
        for chunk in chunks(rows, 5000):
            await db.execute(insert(AcwrSnapshot), list(chunk))
    return int(keep.sum())


async def _copy_snapshots(
    db: AsyncSession, source: LoadSource, columns: dict[str, list[Any]]
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
    connection = await db.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(
        AcwrSnapshot.__tablename__, records=records, columns=SNAPSHOT_COLUMNS
    )


async def _store_states(
    db: AsyncSession, batch: Batch, source: LoadSource, series: acwr.AcwrSeries
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
    await update_states(db, source, rows)


async def update_states(db: AsyncSession, source: LoadSource, rows: list[dict[str, Any]]) -> None:
    """Set (first days, computed through, last averages) and clear ``dirty_from``."""
    if not rows:
        return
    if dialect_name(db) == "postgresql":
        await db.execute(
            _UPDATE_STATES,
            {
                "source": source.value,
                **{key: [row[key] for row in rows] for key in rows[0]},
            },
        )
        return
    table = cast(Table, AcwrState.__table__)
    await db.execute(
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


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """The items in slices of ``size``, to keep each statement's parameters bounded."""
    return [items[i : i + size] for i in range(0, len(items), size)]
