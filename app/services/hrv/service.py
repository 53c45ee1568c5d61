"""Heart-rate variability writes: storing a member's rMSSD for a day from one source, which
raises ``HRV_DROP`` in the same transaction; and a reader's series (audited when someone
other than the athlete reads it). The series itself is :mod:`app.services.hrv.series`."""

import math
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import upsert_one
from app.models import AuditResource, DailyHRV, HrvSource, TeamMembership
from app.models.base import utcnow
from app.services.alerts import service as alerts
from app.services.hrv import series
from app.services.hrv.baseline import HrvDay
from app.services.platform.days import DayRange
from app.services.teams import access as teams
from app.services.teams.access import MemberAccess


async def record(
    db: AsyncSession,
    membership: TeamMembership,
    day: date,
    rmssd_ms: float,
    source: HrvSource,
) -> tuple[DailyHRV, bool]:
    """Store the athlete's rMSSD for the day from one source; returns the row and whether
    it is new. Every writer (manual entry, Whoop, Oura) goes through here."""
    row, created = await upsert_one(
        db,
        DailyHRV,
        {
            "team_id": membership.team_id,
            "membership_id": membership.id,
            "date": day,
            "source": source,
            "rmssd_ms": rmssd_ms,
            "ln_rmssd": math.log(rmssd_ms),
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
        conflict=["membership_id", "date", "source"],
        update=["rmssd_ms", "ln_rmssd", "updated_at"],
    )
    await alerts.on_hrv(db, membership, day)
    return row, created


async def read_series(db: AsyncSession, member: MemberAccess, days: DayRange) -> list[HrvDay]:
    """The member's series for a reader (the athlete, or staff): a reader other than the
    athlete is recorded in the audit log, one entry; the athlete's own reads are not."""
    points = await series.series(db, member.membership.id, days)
    await teams.record_series_read(db, member, AuditResource.HRV)
    return points
