"""The ACWR jobs, each owning its transactions: rebuild, the minute's dirty recompute, the
nightly advance.

:func:`rebuild` (``loadline acwr recompute``) recomputes teams from scratch over several
connections; :func:`recompute_dirty` (every minute) brings every athlete marked dirty up to
date, one transaction per team; :func:`advance_team` (at a team's local midnight) moves its
active members on to the new day. Each takes an ``async_sessionmaker`` and commits per team
or per worker; :mod:`app.scheduler` only schedules them.
"""

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import AcwrState, LoadSource, Team
from app.services.acwr import engine

logger = logging.getLogger("loadline.jobs")


async def rebuild(
    sessionmaker: async_sessionmaker[AsyncSession],
    teams: Sequence[Team],
    source: LoadSource,
    *,
    workers: int = 2,
    progress: engine.Progress | None = None,
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
        async with sessionmaker.begin() as db:
            return await engine.refresh(
                db, group, source, full=True, progress=functools.partial(report, i)
            )

    return sum(await asyncio.gather(*(run(i, g) for i, g in enumerate(groups))))


def _never() -> bool:
    return False


async def recompute_dirty(
    sessionmaker: async_sessionmaker[AsyncSession], *, stop: Callable[[], bool] = _never
) -> int:
    """Recompute every athlete marked dirty, one transaction per team; returns athlete-days.

    ``stop`` is asked between teams: on shutdown the run ends after the current team's
    commit, and the teams left stay dirty for the next run (or the next read).
    """
    async with sessionmaker() as db:
        team_ids = list(
            await db.scalars(
                select(AcwrState.team_id).where(AcwrState.dirty_from.is_not(None)).distinct()
            )
        )
    computed = 0
    for team_id in sorted(team_ids):
        if stop():
            logger.info('{"event": "acwr_dirty_stopped", "before_team_id": %d}', team_id)
            break
        try:
            computed += await _recompute_team_dirty(sessionmaker, team_id)
        except Exception:
            # One team's failure must not keep every other team stale.
            logger.exception('{"event": "acwr_team_failed", "team_id": %d}', team_id)
    return computed


async def _recompute_team_dirty(
    sessionmaker: async_sessionmaker[AsyncSession], team_id: int
) -> int:
    computed = 0
    async with sessionmaker.begin() as db:
        team = await db.get(Team, team_id)
        if team is None:
            return 0
        for source in LoadSource:
            dirty = await db.scalars(
                select(AcwrState.membership_id).where(
                    AcwrState.team_id == team_id,
                    AcwrState.source == source,
                    AcwrState.dirty_from.is_not(None),
                )
            )
            ids = list(dirty)
            if ids:
                computed += await engine.refresh(db, [team], source, membership_ids=ids)
    return computed


async def advance_team(sessionmaker: async_sessionmaker[AsyncSession], team_id: int) -> int:
    """Bring every active member of a team up to its new local day (run at local midnight)."""
    async with sessionmaker.begin() as db:
        team = await db.get(Team, team_id)
        if team is None:
            return 0
        computed = 0
        for source in LoadSource:
            computed += await engine.refresh(db, [team], source)
        return computed
