"""The seed's ACWR computation, ported faithfully, as the baseline the engine is compared with.

``compute_acwr_for_member`` in the seed's design note (``/work/shared/seed/design-note.txt``)
walks one athlete's days in Python: per day one ``DailyLoad`` query
(``DailyLoad.objects.filter(membership_id=..., date=d).first()``) and one
``LoadACWR.objects.update_or_create(...)``. This port keeps that shape: per athlete-day one
``SELECT`` of the day's row (ordered by id, ``LIMIT 1``, like Django's ``.first()``) and one
upsert into a scratch table shaped like the seed's ``LoadACWR``. The real schema is left alone.

Two choices favour the seed, so the reported ratio is a lower bound: the upsert is a single
``INSERT ... ON CONFLICT DO UPDATE`` (Django's ``update_or_create`` issues a ``SELECT ... FOR
UPDATE`` and then an ``UPDATE`` or ``INSERT`` inside a savepoint), and each athlete runs in
one transaction (Django's autocommit would commit every athlete-day).
"""

from __future__ import annotations

import math
import time
from datetime import date, timedelta

from sqlalchemy import Column, Date, Float, Integer, MetaData, String, Table, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.models import DailyLoad

SCRATCH = Table(
    "bench_seed_load_acwr",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("membership_id", Integer, nullable=False),
    Column("date", Date, nullable=False),
    Column("acute_ewma", Float, nullable=False),
    Column("chronic_ewma", Float, nullable=False),
    Column("ratio", Float, nullable=False),
    Column("source", String(16), nullable=False),
)
"""The seed's ``LoadACWR``, for statements; :func:`create_scratch_table` creates it."""

_DDL = (
    """
    CREATE TABLE bench_seed_load_acwr (
        id serial PRIMARY KEY,
        membership_id integer NOT NULL
            REFERENCES team_memberships (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
        date date NOT NULL,
        acute_ewma double precision NOT NULL,
        chronic_ewma double precision NOT NULL,
        ratio double precision NOT NULL,
        source varchar(16) NOT NULL DEFAULT 'INTERNAL',
        UNIQUE (membership_id, date, source)
    )
    """,
    "CREATE INDEX ON bench_seed_load_acwr (membership_id, date)",
)
"""What Django would create for ``LoadACWR``: deferred FK, ``unique_together``, the index."""


async def create_scratch_table(engine: AsyncEngine) -> None:
    """Create the scratch ``LoadACWR`` in the benchmark's database only."""
    async with engine.begin() as connection:
        for statement in _DDL:
            await connection.execute(text(statement))


def ewma(prev: float, x_t: float, alpha: float) -> float:
    """The seed's ``ewma``, unchanged."""
    return alpha * x_t + (1 - alpha) * prev


def alpha_from_halflife(hl_days: float) -> float:
    """The seed's ``alpha_from_halflife``, unchanged."""
    return 1 - math.exp(math.log(0.5) / hl_days)


async def compute_acwr_for_member(
    session: AsyncSession, membership_id: int, start_date: date, end_date: date
) -> int:
    """The seed's loop, statement for statement; returns the athlete-days it wrote."""
    a_alpha = alpha_from_halflife(7)
    c_alpha = alpha_from_halflife(28)
    d = start_date
    acute = chronic = 0.0
    written = 0
    while d <= end_date:
        dl = (
            await session.scalars(
                select(DailyLoad)
                .where(DailyLoad.membership_id == membership_id, DailyLoad.date == d)
                .order_by(DailyLoad.id)
                .limit(1)
            )
        ).first()
        x = dl.internal_load_au if dl else 0
        acute = ewma(acute, x, a_alpha)
        chronic = ewma(chronic, x, c_alpha)
        ratio = (acute / chronic) if chronic > 0 else 0.0
        values = {"acute_ewma": acute, "chronic_ewma": chronic, "ratio": ratio}
        stmt = insert(SCRATCH).values(
            membership_id=membership_id, date=d, source="INTERNAL", **values
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["membership_id", "date", "source"], set_=values
            )
        )
        written += 1
        d += timedelta(days=1)
    return written


async def run_sample(
    sessionmaker: async_sessionmaker[AsyncSession],
    members: list[int],
    start_date: date,
    end_date: date,
    budget_s: float,
) -> tuple[int, int, float]:
    """Whole athletes, one after another, until ``budget_s`` is spent.

    Sizing the sample by time keeps the run near a minute on any machine. Returns
    (athletes, athlete-days, seconds).
    """
    began = time.perf_counter()
    athletes = days = 0
    for membership_id in members:
        async with sessionmaker.begin() as session:
            days += await compute_acwr_for_member(session, membership_id, start_date, end_date)
        athletes += 1
        if time.perf_counter() - began >= budget_s:
            break
    return athletes, days, time.perf_counter() - began
