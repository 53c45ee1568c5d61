"""The demo's alerts: what the rules would have raised over the last two weeks, raised
through the alert service, and the few the coach has already acknowledged."""

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.demo.scenario import TIMEZONE
from app.models import Alert, AlertKind, Role, Team, TeamMembership, WellnessLog
from app.models.base import utcnow
from app.services.alerts import jobs as alert_jobs
from app.services.alerts import service as alerts
from app.services.hrv import baseline as hrv
from app.services.wellness import scoring as wellness

ALERT_DAYS = 14
"""The alerts of the last two weeks are raised, as if the rules had been running."""


async def raise_alerts(
    db: AsyncSession,
    team: Team,
    end: date,
    wellness_rows: Sequence[dict[str, Any]],
    hrv_rows: Sequence[dict[str, Any]],
) -> None:
    """Raise what the rules would have raised over the last ``ALERT_DAYS`` days and this
    morning, through the alert service, so messages and evidence are the real ones."""
    players = {
        m.id: m
        for m in await db.scalars(
            select(TeamMembership).where(
                TeamMembership.team_id == team.id, TeamMembership.role == Role.PLAYER
            )
        )
    }
    since = end - timedelta(days=ALERT_DAYS - 1)
    histories: dict[int, dict[date, wellness.Values]] = {}
    for row in wellness_rows:
        items = [row.get(item) for item in wellness.ITEMS]
        histories.setdefault(row["membership_id"], {})[row["date"]] = items
    for membership_id, history in histories.items():
        days = sorted(day for day in history if day >= since)
        assessed = dict(zip(days, wellness.assess_days(history, days), strict=True))
        for row in wellness_rows:
            if row["membership_id"] == membership_id and row["date"] in assessed:
                log = WellnessLog(**row)
                await alerts.on_wellness(db, players[membership_id], log, assessed[row["date"]])
    values: dict[int, dict[date, float]] = {}
    for row in hrv_rows:
        values.setdefault(row["membership_id"], {})[row["date"]] = row["rmssd_ms"]
    for membership_id, by_day in values.items():
        for day, rmssd in sorted(by_day.items()):
            if day >= since and hrv.drop_check(day, rmssd, by_day) is not None:
                await alerts.on_hrv(db, players[membership_id], day)
    await alert_jobs.acwr_history_alerts(db, team, players, since, end)
    # Each player's newest day: ACWR, HRV below normal, and missing sRPE (14 days back).
    await alert_jobs.team_alerts(db, team, utcnow())


ACK_NOTES = (
    "Spoke to him at training, reminded him to log",
    "Checked in with physio, nothing to worry about",
    "Seen, keeping an eye on it",
)


async def acknowledge_some(db: AsyncSession, team_id: int, end: date, rng: random.Random) -> None:
    """The coach has already dealt with a few of the older alerts (the newest stay open)."""
    coach = await db.scalar(
        select(TeamMembership.user_id).where(
            TeamMembership.team_id == team_id, TeamMembership.role == Role.COACH
        )
    )
    older = list(
        await db.execute(
            select(Alert.id, Alert.kind, Alert.date)
            .where(Alert.team_id == team_id, Alert.date <= end - timedelta(days=4))
            .order_by(Alert.date, Alert.id)
        )
    )
    missing = [i for i, kind, _ in older if kind == AlertKind.MISSING_SRPE]
    chosen = rng.sample(missing, min(3, len(missing)))
    reds = [i for i, kind, _ in older if kind == AlertKind.WELLNESS_RED]
    chosen += reds[:1]  # the oldest red morning was followed up (today's reds stay open)
    tz = ZoneInfo(TIMEZONE)
    for alert_id, _, day in (row for row in older if row[0] in chosen):
        seen = datetime.combine(day + timedelta(days=1), time(8, rng.randint(0, 59)), tz)
        await db.execute(
            update(Alert)
            .where(Alert.id == alert_id)
            .values(
                acknowledged_at=min(seen.astimezone(UTC), utcnow()),
                acknowledged_by=coach,
                note=rng.choice(ACK_NOTES),
            )
        )
