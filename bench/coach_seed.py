"""The coach-facing data of a benchmark team beyond its daily loads: five sessions a week
with attendance for every player (a few absent or late) and an sRPE for most attended, a
wellness check-in most mornings (every player today), HRV most mornings, and a year of
alerts (the last two weeks' open). Rows go in through the models in bulk (``insert`` with
many parameter sets).
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Alert,
    AlertKind,
    Attendance,
    AttendanceStatus,
    DailyHRV,
    HrvSource,
    SessionRPE,
    SessionType,
    Severity,
    TrainingSession,
    WellnessLog,
)
from bench.seed import World

TRAINING_DAYS = {
    0: SessionType.TECHNICAL,
    1: SessionType.CONDITIONING,
    3: SessionType.TACTICAL,
    4: SessionType.RECOVERY,
    5: SessionType.MATCH,
}
"""Five sessions a week on the seed's training days (Wednesday and Sunday are rest)."""
PLANNED_RPE = {
    SessionType.TECHNICAL: Decimal("5.0"),
    SessionType.CONDITIONING: Decimal("7.0"),
    SessionType.TACTICAL: Decimal("5.5"),
    SessionType.RECOVERY: Decimal("3.0"),
    SessionType.MATCH: Decimal("8.5"),
}
"""Every session planned, so the weekly report's planned load has work to do."""

ABSENT_RATE, LATE_RATE, EXCUSED_RATE = 0.03, 0.03, 0.01
SRPE_RATE = 0.92
WELLNESS_RATE = 0.85
HRV_RATE = 0.80


def _status(rng: random.Random) -> AttendanceStatus:
    draw = rng.random()
    if draw < ABSENT_RATE:
        return AttendanceStatus.ABSENT
    if draw < ABSENT_RATE + LATE_RATE:
        return AttendanceStatus.LATE
    if draw < ABSENT_RATE + LATE_RATE + EXCUSED_RATE:
        return AttendanceStatus.EXCUSED
    return AttendanceStatus.PRESENT


async def seed_sessions(
    session: AsyncSession, team_id: int, players: list[int], world: World, rng: random.Random
) -> dict[str, int]:
    """Sessions five days a week, attendance for every player, an sRPE for most attended."""
    days = [world.first_day + timedelta(days=i) for i in range(world.scale.days)]
    session_rows = []
    for day in days:
        kind = TRAINING_DAYS.get(day.weekday())
        if kind is None:
            continue
        start = datetime.combine(day, clock(10, 0), tzinfo=UTC)
        minutes = 90 if kind is SessionType.MATCH else 75
        session_rows.append(
            {
                "team_id": team_id,
                "session_type": kind,
                "title": f"{kind.value.title()} {day.isoformat()}",
                "start": start,
                "end": start + timedelta(minutes=minutes),
                "day": day,
                "planned_rpe": PLANNED_RPE[kind],
            }
        )
    ids = list(
        await session.scalars(
            insert(TrainingSession).returning(TrainingSession.id, sort_by_parameter_order=True),
            session_rows,
        )
    )
    attendance, rpes = [], []
    for session_id, row in zip(ids, session_rows, strict=True):
        minutes = round((row["end"] - row["start"]).total_seconds() / 60)
        for member in players:
            status = _status(rng)
            attended = status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE)
            attendance.append(
                {
                    "team_id": team_id,
                    "session_id": session_id,
                    "membership_id": member,
                    "status": status,
                    "minutes_participated": minutes if attended else 0,
                }
            )
            if attended and rng.random() < SRPE_RATE:
                rpe = Decimal(rng.randint(6, 18)) / 2  # 3.0 .. 9.0 in halves
                rpes.append(
                    {
                        "team_id": team_id,
                        "session_id": session_id,
                        "membership_id": member,
                        "rpe_0_10": rpe,
                        "duration_min": minutes,
                        "load_au": round(rpe * minutes),
                    }
                )
    await session.execute(insert(Attendance), attendance)
    await session.execute(insert(SessionRPE), rpes)
    return {"sessions": len(ids), "attendance": len(attendance), "session_rpe": len(rpes)}


async def seed_mornings(
    session: AsyncSession, team_id: int, players: list[int], world: World, rng: random.Random
) -> dict[str, int]:
    """Wellness most mornings (every player today) and HRV most mornings."""
    wellness, readings = [], []
    for member in players:
        baseline = rng.gauss(70, 12)
        for i in range(world.scale.days):
            day = world.first_day + timedelta(days=i)
            if day == world.today or rng.random() < WELLNESS_RATE:
                wellness.append(
                    {
                        "team_id": team_id,
                        "membership_id": member,
                        "date": day,
                        "sleep_quality": rng.randint(2, 5),
                        "mood": rng.randint(2, 5),
                        "soreness": rng.randint(1, 5),
                        "stress": rng.randint(2, 5),
                        "fatigue": rng.randint(1, 5),
                    }
                )
            if rng.random() < HRV_RATE:
                rmssd = max(20.0, rng.gauss(baseline, baseline * 0.12))
                readings.append(
                    {
                        "team_id": team_id,
                        "membership_id": member,
                        "date": day,
                        "rmssd_ms": round(rmssd, 1),
                        "ln_rmssd": math.log(round(rmssd, 1)),
                        "source": HrvSource.WHOOP,
                    }
                )
    await session.execute(insert(WellnessLog), wellness)
    await session.execute(insert(DailyHRV), readings)
    return {"wellness_logs": len(wellness), "daily_hrv": len(readings)}


async def seed_alerts(
    session: AsyncSession, team_id: int, players: list[int], world: World, rng: random.Random
) -> dict[str, int]:
    """A year of alerts, all acknowledged but the last two weeks' (about 25 open)."""
    rows, seen = [], set()
    kinds = list(AlertKind)
    for _ in range(400):
        member, kind = rng.choice(players), rng.choice(kinds)
        day = world.today - timedelta(days=rng.randrange(world.scale.days))
        if (member, kind, day) in seen:
            continue
        seen.add((member, kind, day))
        open_ = (world.today - day).days < 14
        rows.append(
            {
                "team_id": team_id,
                "membership_id": member,
                "kind": kind,
                "date": day,
                "severity": Severity.RED if kind is AlertKind.ACWR_DANGER else Severity.AMBER,
                "message": f"{kind.value} on {day.isoformat()}",
                "evidence": {"rule": kind.value, "params": {}, "inputs": {"value": 1.0}},
                "acknowledged_at": None if open_ else datetime.combine(day, clock(12), tzinfo=UTC),
            }
        )
    await session.execute(insert(Alert), rows)
    return {"alerts": len(rows), "open_alerts": sum(r["acknowledged_at"] is None for r in rows)}
