"""Writing ACWR snapshots: bringing athletes up to date, in the caller's transaction.

Writes only mark an athlete dirty from a day (``loads.mark_acwr_dirty``); this module
recomputes from that day, starting from the stored values of the day before, so the work
is proportional to the days after it, never to the whole history. :func:`refresh` locks the
athletes' state rows (in member order, like every writer), plans where each one starts and
groups them into batches that share settings and start day; each batch is computed and
stored in bulk by :mod:`app.services.acwr.batches`. :func:`recompute_team` recomputes a
team after a settings change. Every function here takes the request's or the job's session
and never begins, commits or rolls back; the jobs that own their transactions are in
:mod:`app.services.acwr.jobs`.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, delete, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_insert
from app.models import AcwrSnapshot, AcwrState, DailyLoad, LoadSource, Team, TeamMembership
from app.services.acwr import model as acwr
from app.services.acwr.batches import (
    Athlete,
    Batch,
    StateRow,
    chunks,
    compute_batch,
    load_column,
    update_states,
)
from app.services.acwr.stored import is_current, params_of
from app.services.platform.days import team_zone, today

BATCH_ATHLETES = 2000
Progress = Callable[[int, int], None]


async def refresh(
    db: AsyncSession,
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
    computed, _ = await refresh_athletes(db, teams, source, membership_ids, full, progress)
    return computed


async def refresh_athletes(
    db: AsyncSession,
    teams: Sequence[Team],
    source: LoadSource,
    membership_ids: Iterable[int] | None,
    full: bool,
    progress: Progress | None,
) -> tuple[int, list[Athlete]]:
    """As :func:`refresh`, also answering the athletes as planned (their first days):
    the read of one athlete's series takes its first load day from them."""
    by_team = {team.id: team for team in teams}
    if membership_ids is None and not full and await _teams_current(db, teams, source):
        return 0, []
    athletes = await _lock_states(db, by_team, source, membership_ids)
    await _read_first_days(db, [a for a in athletes if full or _needs_first_days(a)], source)
    batches = await _plan(db, athletes, by_team, source, full)
    total = sum(len(b.athletes) for b in batches)
    done = computed = 0
    for batch in batches:
        computed += await compute_batch(db, batch, source)
        done += len(batch.athletes)
        if progress is not None:
            progress(done, total)
    await _settle_idle(db, athletes, by_team, source)
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


async def _teams_current(db: AsyncSession, teams: Sequence[Team], source: LoadSource) -> bool:
    """Whether every active member of these teams is computed through today and nobody
    is dirty: then a team-wide refresh (the roster's) reads without locking or writing."""
    for team in teams:
        params = {"team_id": team.id, "source": source, "today": today(team_zone(team))}
        members, up_to_date, dirty = (await db.execute(_TEAM_CURRENCY, params)).one()
        if members != up_to_date or dirty:
            return False
    return True


async def _lock_states(
    db: AsyncSession,
    teams: dict[int, Team],
    source: LoadSource,
    membership_ids: Iterable[int] | None,
) -> list[Athlete]:
    """Lock the athletes' state rows (in id order) for this transaction, creating missing ones.

    The lock makes a concurrent write's dirty mark wait until this refresh has committed,
    so a mark is never cleared by a refresh that did not see its data. For named athletes
    whose rows exist (every read of a series), this is a single query.
    """
    if membership_ids is not None:
        wanted = sorted(set(membership_ids))
        athletes = await _select_states(db, teams, source, wanted)
        missing = set(wanted) - {a.membership_id for a in athletes}
        if missing:
            await _create_states(db, teams, source, sorted(missing))
            athletes += await _select_states(db, teams, source, sorted(missing))
        return sorted(athletes, key=lambda a: a.membership_id)
    active = await db.scalars(
        select(TeamMembership.id).where(
            TeamMembership.team_id.in_(list(teams)), TeamMembership.active.is_(True)
        )
    )
    dirty = await db.scalars(
        select(AcwrState.membership_id).where(
            AcwrState.source == source,
            AcwrState.team_id.in_(list(teams)),
            AcwrState.dirty_from.is_not(None),
        )
    )
    ids = sorted(set(active) | set(dirty))
    await _create_states(db, teams, source, ids)
    return await _select_states(db, teams, source, ids)


async def _create_states(
    db: AsyncSession, teams: dict[int, Team], source: LoadSource, ids: list[int]
) -> None:
    for chunk in chunks(ids, 5000):
        members = await db.execute(
            select(TeamMembership.id, TeamMembership.team_id).where(
                TeamMembership.id.in_(chunk), TeamMembership.team_id.in_(list(teams))
            )
        )
        rows = [{"membership_id": m, "team_id": t, "source": source} for m, t in members.all()]
        if rows:
            await db.execute(
                dialect_insert(db, AcwrState).on_conflict_do_nothing(
                    index_elements=["membership_id", "source"]
                ),
                rows,
            )


async def _select_states(
    db: AsyncSession, teams: dict[int, Team], source: LoadSource, ids: list[int]
) -> list[Athlete]:
    athletes: list[Athlete] = []
    for chunk in chunks(ids, 5000):
        rows = await db.execute(
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
            Athlete(m, t, StateRow(fa, fl, through, acute, chronic, dirty))
            for m, t, fa, fl, through, acute, chronic, dirty in rows.all()
        )
    return athletes


def _needs_first_days(athlete: Athlete) -> bool:
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


async def _read_first_days(db: AsyncSession, athletes: list[Athlete], source: LoadSource) -> None:
    """Each athlete's first day with any activity and first day with a load, in one query."""
    if not athletes:
        return
    column = load_column(source)
    activity: Any = column > 0
    if source == LoadSource.INTERNAL:
        activity = or_(activity, DailyLoad.attended_sessions > 0)
    by_id = {a.membership_id: a for a in athletes}
    for chunk in chunks(list(by_id), 5000):
        rows = await db.execute(
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
    db: AsyncSession,
    athletes: list[Athlete],
    teams: dict[int, Team],
    source: LoadSource,
    full: bool,
) -> list[Batch]:
    """Decide each athlete's start day and previous values; group them into batches."""
    needs_prev: list[Athlete] = []
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
    await _read_prev(db, needs_prev, source)

    groups: dict[tuple[acwr.AcwrParams, date | None, date], list[Athlete]] = defaultdict(list)
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
        for chunk in chunks(members, BATCH_ATHLETES):
            start = min(a.start or end for a in chunk)
            batches.append(Batch(params, start, end, list(chunk), full))
    return sorted(batches, key=lambda b: b.start)


async def _read_prev(db: AsyncSession, athletes: list[Athlete], source: LoadSource) -> None:
    """Stored averages of the day before each athlete's start, one query per chunk."""
    for chunk in chunks(athletes, 5000):
        keys = [
            (a.membership_id, a.start - timedelta(days=1)) for a in chunk if a.start is not None
        ]
        rows = await db.execute(
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


async def _settle_idle(
    db: AsyncSession, athletes: list[Athlete], teams: dict[int, Team], source: LoadSource
) -> None:
    """Athletes with nothing to compute: clear their marks and, with no activity, their rows."""
    idle = [a for a in athletes if a.start is None]
    emptied = [
        a.membership_id
        for a in idle
        if a.first_activity is None and a.state.first_activity_day is not None
    ]
    for chunk in chunks(emptied, 5000):
        await db.execute(
            delete(AcwrSnapshot).where(
                AcwrSnapshot.membership_id.in_(chunk), AcwrSnapshot.source == source
            )
        )
    changed = [
        a
        for a in idle
        if a.membership_id in emptied
        or not is_current(teams[a.team_id], a.state.computed_through, a.state.dirty_from)
    ]
    gone = set(emptied)
    await update_states(
        db,
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


async def recompute_team(db: AsyncSession, team: Team) -> int:
    """After a settings change: every member of the team, active or not, from the start.

    Goes through :func:`refresh`, which locks state rows in member order like every
    other writer, so this cannot deadlock with them.
    """
    members = list(
        await db.scalars(select(TeamMembership.id).where(TeamMembership.team_id == team.id))
    )
    computed = 0
    for source in LoadSource:
        computed += await refresh(db, [team], source, membership_ids=members, full=True)
    return computed
