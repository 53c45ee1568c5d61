"""Morning wellness entries: the day's upsert (which raises ``WELLNESS_RED`` in the same
transaction) and the member's list (audited when someone other than the athlete reads it),
each entry assessed against the athlete's own 28-day baseline. Scoring lives in
:mod:`app.services.wellness.scoring`; the baselines' windows are read in one statement
per request, never one per entry."""

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import upsert_one
from app.errors import Invalid
from app.models import AuditResource, WellnessLog
from app.models.base import utcnow
from app.schemas.performance import WellnessCreate
from app.services.alerts import service as alerts
from app.services.platform.days import DayRange, team_zone, today
from app.services.teams import access as teams
from app.services.teams.access import MemberAccess
from app.services.wellness import scoring
from app.services.wellness.scoring import ITEMS, Assessment


async def _history(
    db: AsyncSession, membership_id: int, first: date, last: date
) -> dict[date, scoring.Values]:
    """The member's items by day from ``first`` to ``last`` (both included), one statement."""
    rows = await db.execute(
        select(WellnessLog.date, *(getattr(WellnessLog, item) for item in ITEMS)).where(
            WellnessLog.membership_id == membership_id,
            WellnessLog.date >= first,
            WellnessLog.date <= last,
        )
    )
    return {day: list(values) for day, *values in rows}


async def assess_logs(
    db: AsyncSession, membership_id: int, logs: list[WellnessLog]
) -> list[Assessment]:
    """Each of the member's ``logs`` assessed against its own 28 days before."""
    if not logs:
        return []
    first = min(log.date for log in logs) - timedelta(days=scoring.WINDOW_DAYS)
    history = await _history(db, membership_id, first, max(log.date for log in logs))
    for log in logs:  # the entries as this transaction sees them
        history[log.date] = scoring.values_of(log)
    return scoring.assess_days(history, [log.date for log in logs])


async def upsert_wellness(
    db: AsyncSession, member: MemberAccess, entry: WellnessCreate
) -> tuple[WellnessLog, bool, Assessment]:
    """Create or wholly replace the member's entry for the day (left-out items become null),
    with its assessment (the flag raised by the baseline is what ``WELLNESS_RED`` uses)."""
    local_today = today(team_zone(member.team_access.team))
    day = entry.date or local_today
    if day > local_today:
        raise Invalid("date cannot be in the future (team's time zone)", field=("body", "date"))
    membership = member.membership
    values = {
        "team_id": membership.team_id,
        "membership_id": membership.id,
        "date": day,
        "sleep_quality": entry.sleep_quality,
        "mood": entry.mood,
        "soreness": entry.soreness,
        "stress": entry.stress,
        "fatigue": entry.fatigue,
        "notes": entry.notes,
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    log, created = await upsert_one(
        db,
        WellnessLog,
        values,
        conflict=["membership_id", "date"],
        update=[*ITEMS, "notes", "updated_at"],
    )
    (assessment,) = await assess_logs(db, membership.id, [log])
    await alerts.on_wellness(db, membership, log, assessment)
    return log, created, assessment


async def list_wellness(
    db: AsyncSession, membership_id: int, days: DayRange, *, limit: int, offset: int
) -> list[WellnessLog]:
    """The member's entries of the range, oldest first (days with an entry only)."""
    rows = await db.scalars(
        select(WellnessLog)
        .where(
            WellnessLog.membership_id == membership_id,
            WellnessLog.date >= days.start,
            WellnessLog.date <= days.end,
        )
        .order_by(WellnessLog.date)
        .limit(limit)
        .offset(offset)
    )
    return list(rows)


async def read_wellness(
    db: AsyncSession, member: MemberAccess, days: DayRange, *, limit: int, offset: int
) -> list[tuple[WellnessLog, Assessment]]:
    """:func:`list_wellness` for a reader of the member's series, each entry assessed (the
    page, then its baselines' window: two statements whatever the page's size): a reader
    other than the athlete (staff) is recorded in the audit log, one entry; the athlete's
    own reads are not."""
    logs = await list_wellness(db, member.membership.id, days, limit=limit, offset=offset)
    assessments = await assess_logs(db, member.membership.id, logs)
    await teams.record_series_read(db, member, AuditResource.WELLNESS)
    return list(zip(logs, assessments, strict=True))
