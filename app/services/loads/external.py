"""External (GPS) load: storing summaries and each member's daily external total.

Every summary, pushed by a GPS bridge (``app.services.integrations.gps``) or imported by staff
from a Catapult OpenField or STATSports export (``app.services.loads.gps_csv``), becomes one
``ExternalLoad`` row whose ``event_key`` is unique per team, so a repeat is stored once. A
day's ``daily_loads.external_load_pl`` is then recomputed as the sum of the member's rows
that day, under the same per-(member, day) lock the sRPE roll-up takes, and the member's
EXTERNAL ACWR is marked dirty from the first day touched. All in the caller's transaction.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_insert, lock_member_days, upsert
from app.models import DailyLoad, ExternalLoad, ExternalLoadSource, LoadSource
from app.services.loads.daily import mark_acwr_dirty

MIN_DAY = date(2000, 1, 1)
_CHUNK = 1000


def day_problem(day: date, local_today: date) -> str | None:
    """Why a day cannot take load: before 2000 (a typo that would make ACWR replay
    decades) or in the future of the team's zone."""
    if day < MIN_DAY:
        return f"date {day.isoformat()} is before {MIN_DAY.isoformat()}"
    if day > local_today:
        return f"date {day.isoformat()} is in the future (team's time zone)"
    return None


@dataclass(frozen=True)
class NewLoad:
    """One GPS summary to store, its athlete identified; ``event_key`` is unique per team."""

    membership_id: int
    day: date
    event_key: str
    player_load: float
    distance_m: float | None = None
    hsr_m: float | None = None
    sprints: int | None = None


async def store_loads(
    db: AsyncSession, team_id: int, source: ExternalLoadSource, loads: Sequence[NewLoad]
) -> list[NewLoad]:
    """Insert the loads whose event_key the team has not seen; returns those inserted.

    ``ON CONFLICT DO NOTHING`` makes a repeat (a redelivery, a re-import) a no-op even when
    two transactions race; keys go in sorted order so two such writers cannot deadlock.
    """
    unique = {load.event_key: load for load in reversed(loads)}
    ordered = [unique[key] for key in sorted(unique)]
    inserted: set[str] = set()
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        result = await db.execute(
            dialect_insert(db, ExternalLoad)
            .values([_values(team_id, source, load) for load in chunk])
            .on_conflict_do_nothing(index_elements=["team_id", "event_key"])
            .returning(ExternalLoad.event_key)
        )
        inserted.update(result.scalars().all())
    return [load for load in ordered if load.event_key in inserted]


def _values(team_id: int, source: ExternalLoadSource, load: NewLoad) -> dict[str, Any]:
    return {
        "team_id": team_id,
        "membership_id": load.membership_id,
        "date": load.day,
        "source": source,
        "event_key": load.event_key,
        "player_load": load.player_load,
        "distance_m": load.distance_m,
        "hsr_m": load.hsr_m,
        "sprints": load.sprints,
        "created_at": datetime.now(UTC),
    }


async def recompute_touched(db: AsyncSession, team_id: int, loads: Iterable[NewLoad]) -> None:
    """Recompute the days the loads fall on, member by member in id order (no deadlocks)."""
    days: dict[int, set[date]] = defaultdict(set)
    for load in loads:
        days[load.membership_id].add(load.day)
    for membership_id in sorted(days):
        await recompute_external(db, team_id, membership_id, days[membership_id])


async def recompute_external(
    db: AsyncSession, team_id: int, membership_id: int, days: Iterable[date]
) -> None:
    """Set each day's ``external_load_pl`` to the sum of the member's GPS loads that day,
    then mark their EXTERNAL ACWR dirty from the first day.

    Summing under the per-(member, day) lock, after this transaction's own inserts, makes
    concurrent writers take turns so each sums what the others committed. Only the
    external column is updated: the sRPE totals of an existing row stay as they are.
    """
    wanted = sorted(set(days))
    if not wanted:
        return
    await lock_member_days(db, team_id, membership_id, wanted)
    result = await db.execute(
        select(ExternalLoad.date, func.sum(ExternalLoad.player_load))
        .where(ExternalLoad.membership_id == membership_id, ExternalLoad.date.in_(wanted))
        .group_by(ExternalLoad.date)
    )
    sums = {day: float(total or 0.0) for day, total in result.all()}
    rows = [_daily_row(team_id, membership_id, day, sums.get(day, 0.0)) for day in wanted]
    for start in range(0, len(rows), _CHUNK):
        await upsert(
            db,
            DailyLoad,
            rows[start : start + _CHUNK],
            conflict=["membership_id", "date"],
            update=["external_load_pl"],
        )
    await mark_acwr_dirty(db, team_id, membership_id, LoadSource.EXTERNAL, wanted[0])


def _daily_row(team_id: int, membership_id: int, day: date, total: float) -> dict[str, Any]:
    return {
        "team_id": team_id,
        "membership_id": membership_id,
        "date": day,
        "internal_load_au": 0,
        "external_load_pl": round(total, 2),
        "attended_sessions": 0,
        "rated_sessions": 0,
    }
