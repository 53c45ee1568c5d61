"""Heart-rate variability reads: a member's per-day series and the drop rule for one stored
day, each in one query. The arithmetic is :mod:`app.services.hrv.baseline`; the writes are
:mod:`app.services.hrv.service`. Nothing here raises alerts, so the alerts can read it."""

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import DailyHRV
from app.services.hrv.baseline import (
    DROP_WINDOW_DAYS,
    HISTORY_DAYS,
    HrvDay,
    choose_daily,
    compute_series,
    days_before,
    drop_check,
)
from app.services.platform.days import DayRange


async def _readings(
    db: AsyncSession, membership_id: int, first: date, last: date
) -> list[DailyHRV]:
    """Every source's rows of the member from ``first`` to ``last`` (both included)."""
    rows = await db.scalars(
        select(DailyHRV)
        .where(
            DailyHRV.membership_id == membership_id,
            DailyHRV.date >= first,
            DailyHRV.date <= last,
        )
        .order_by(DailyHRV.date, DailyHRV.id)
    )
    return list(rows)


async def series(db: AsyncSession, membership_id: int, days: DayRange) -> list[HrvDay]:
    """One entry per day of the range; one query fetches the range and the 60 days before."""
    rows = await _readings(db, membership_id, days_before(days.start, HISTORY_DAYS), days.end)
    return compute_series(rows, days)


async def drop_evidence(db: AsyncSession, membership_id: int, day: date) -> dict[str, Any] | None:
    """Evaluate the HRV drop rule for the member's stored value of ``day`` (the value that
    counts, device over MANUAL) in one query; the evidence, or None when the rule does not
    fire or the day has no value. Call it after a write, in the same transaction."""
    rows = await _readings(db, membership_id, days_before(day, DROP_WINDOW_DAYS), day)
    chosen = choose_daily(rows)
    today = chosen.pop(day, None)
    if today is None:
        return None
    return drop_check(day, today.rmssd_ms, {d: r.rmssd_ms for d, r in chosen.items()})
