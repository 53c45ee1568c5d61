"""Morning wellness: items 1 to 5 where 5 is best; the flag turns on the worst item."""

from datetime import date
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import upsert_one
from app.errors import Invalid
from app.models import WellnessLog
from app.models.base import utcnow
from app.services.alerts import service as alerts
from app.services.platform.days import DayRange, team_zone, today
from app.services.teams.service import MemberAccess

ITEMS = ("sleep_quality", "mood", "soreness", "stress", "fatigue")
Flag = Literal["red", "amber", "green"]


def score(values: list[int | None]) -> tuple[int, Flag]:
    """Total of the items given, and the flag: red if any is 1, amber if any is 2, else green."""
    given = [v for v in values if v is not None]
    if 1 in given:
        return sum(given), "red"
    if 2 in given:
        return sum(given), "amber"
    return sum(given), "green"


def score_log(log: WellnessLog) -> tuple[int, Flag]:
    return score([getattr(log, item) for item in ITEMS])


async def upsert_wellness(
    session: AsyncSession, member: MemberAccess, fields: dict[str, Any]
) -> tuple[WellnessLog, bool]:
    """Create or wholly replace the member's entry for the day (left-out items become null)."""
    local_today = today(team_zone(member.team_access.team))
    day: date = fields.get("date") or local_today
    if day > local_today:
        raise Invalid("date cannot be in the future (team's time zone)", field=("body", "date"))
    membership = member.membership
    values = {
        "team_id": membership.team_id,
        "membership_id": membership.id,
        "date": day,
        **{item: fields.get(item) for item in ITEMS},
        "notes": fields.get("notes"),
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    log, created = await upsert_one(
        session,
        WellnessLog,
        values,
        conflict=["membership_id", "date"],
        update=[*ITEMS, "notes", "updated_at"],
    )
    await alerts.on_wellness(session, membership, log)
    return log, created


async def list_wellness(
    session: AsyncSession, membership_id: int, days: DayRange, *, limit: int, offset: int
) -> list[WellnessLog]:
    rows = await session.scalars(
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
