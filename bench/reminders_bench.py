"""Reminders job benchmark on PostgreSQL: ``python -m bench.reminders_bench``.

The issue's target: one run of the reminders job for 10,000 players across 250 teams in
under 5 seconds. Seeds ``--teams`` teams (default 250) of ``--players`` players (default
40) spread over six time zones, every one with a wellness reminder already due today
(``00:00`` local) and an sRPE reminder 30 minutes after a session that ended an hour ago,
an outbound webhook subscribed to ``reminder.due`` and email on (``console``: the emails
are stored in the outbox, as with SMTP). Of the players 30 % have today's wellness entry;
at the session 80 % were present (a third of them with an sRPE), 10 % absent, 10 % have
no attendance record. Then it times, through the job function itself:

- the first run, when every reminder is due (the figure the target is about);
- the run of the next minute, when nothing new is due (what the job costs every minute
  for the rest of the day);

checks that each reminder was stored, announced and emailed exactly once, writes
``bench/results/reminders.json`` and drops its database, also when something fails.
The server is ``LOADLINE_BENCH_PG_URL``; only its own ``loadline_bench_<random>``
database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import create_engine, create_sessionmaker, migrate
from app.models import (
    Attendance,
    AttendanceStatus,
    EmailMessage,
    OutboundDelivery,
    OutboundWebhook,
    Reminder,
    Role,
    SessionRPE,
    Team,
    TeamMembership,
    TrainingSession,
    User,
    WellnessLog,
)
from app.models.base import utcnow
from app.services.platform import crypto
from app.services.reminders import jobs
from bench.seed import create_database, drop_database, log

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).resolve().parent / "results" / "reminders.json"
TARGET_S = 5.0
ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
)


async def seed(engine: AsyncEngine, settings: Settings, teams: int, players: int) -> dict[str, int]:
    """The world above, in a few bulk inserts; returns the reminders it should cause."""
    rng = random.Random(14)
    now = utcnow()
    async with engine.begin() as db:
        team_ids = list(
            await db.scalars(
                insert(Team).returning(Team.id),
                [
                    {
                        "name": f"Team {n}",
                        "timezone": ZONES[n % len(ZONES)],
                        "reminder_wellness_at": clock(0, 0),
                        "reminder_srpe_after_minutes": 30,
                    }
                    for n in range(teams)
                ],
            )
        )
        user_ids = list(
            await db.scalars(
                insert(User).returning(User.id),
                [
                    {"email": f"p{n}@bench.test", "full_name": f"Player {n}", "password_hash": "x"}
                    for n in range(teams * players)
                ],
            )
        )
        members = list(
            await db.scalars(
                insert(TeamMembership).returning(TeamMembership.id),
                [
                    {"team_id": team_ids[n // players], "user_id": user, "role": Role.PLAYER}
                    for n, user in enumerate(user_ids)
                ],
            )
        )
        await db.execute(
            insert(OutboundWebhook),
            [
                {
                    "team_id": team,
                    "url": "https://93.184.216.34/hooks",
                    "events": ["reminder.due"],
                    "secret_enc": crypto.encrypt(settings, "bench-secret"),
                    "active": True,
                    "created_at": now,
                }
                for team in team_ids
            ],
        )
        start = now - timedelta(hours=2)
        sessions = list(
            await db.scalars(
                insert(TrainingSession).returning(TrainingSession.id),
                [
                    {
                        "team_id": team,
                        "title": "Training",
                        "start": start,
                        "end": start + timedelta(hours=1),
                        "day": start.date(),
                    }
                    for team in team_ids
                ],
            )
        )
        attendance, rpes, wellness = [], [], []
        wellness_due = srpe_due = 0
        for n, member in enumerate(members):
            team, session = team_ids[n // players], sessions[n // players]
            roll = rng.random()
            if roll < 0.8:
                attendance.append(
                    {
                        "team_id": team,
                        "session_id": session,
                        "membership_id": member,
                        "status": AttendanceStatus.PRESENT,
                        "minutes_participated": 60,
                    }
                )
                if rng.random() < 1 / 3:
                    rpes.append(
                        {
                            "team_id": team,
                            "session_id": session,
                            "membership_id": member,
                            "rpe_0_10": 6,
                            "duration_min": 60,
                            "load_au": 360,
                        }
                    )
                else:
                    srpe_due += 1
            elif roll < 0.9:
                attendance.append(
                    {
                        "team_id": team,
                        "session_id": session,
                        "membership_id": member,
                        "status": AttendanceStatus.ABSENT,
                        "minutes_participated": 0,
                    }
                )
            else:
                srpe_due += 1
            zone_day = now.astimezone(_zone(n // players)).date()
            if rng.random() < 0.3:
                wellness.append(
                    {
                        "team_id": team,
                        "membership_id": member,
                        "date": zone_day,
                        "sleep_quality": 4,
                        "mood": 4,
                        "soreness": 4,
                    }
                )
            else:
                wellness_due += 1
        await db.execute(insert(Attendance), attendance)
        await db.execute(insert(SessionRPE), rpes)
        await db.execute(insert(WellnessLog), wellness)
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))
    return {"wellness": wellness_due, "srpe": srpe_due}


def _zone(team_index: int) -> ZoneInfo:
    return ZoneInfo(ZONES[team_index % len(ZONES)])


async def _count(engine: AsyncEngine, query: Any) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(query) or 0)


async def run(admin_url: str, teams: int, players: int, concurrency: int) -> dict[str, Any]:
    name, url = await create_database(admin_url)
    try:
        await migrate(url)
        engine = create_engine(url)
        settings = Settings(database_url=url, email_backend="console")
        try:
            log(f"seeding {teams} teams of {players} players")
            due = await seed(engine, settings, teams, players)
            maker = create_sessionmaker(engine)
            now = utcnow()
            started, cpu = time.perf_counter(), time.process_time()
            sent = await jobs.send_due(maker, settings, now=now, concurrency=concurrency)
            first = time.perf_counter() - started
            first_cpu = time.process_time() - cpu
            log(f"first run: {sent} reminders in {first:.2f} s ({first_cpu:.2f} s of CPU here)")
            started = time.perf_counter()
            again = await jobs.send_due(
                maker,
                settings,
                now=now + timedelta(minutes=1),
                concurrency=concurrency,
            )
            steady = time.perf_counter() - started
            log(f"next minute: {again} reminders in {steady:.2f} s")
            stored = await _count(engine, select(func.count()).select_from(Reminder))
            events = await _count(engine, select(func.count()).select_from(OutboundDelivery))
            emails = await _count(engine, select(func.count()).select_from(EmailMessage))
        finally:
            await engine.dispose()
    finally:
        await drop_database(admin_url, name)
    expected = due["wellness"] + due["srpe"]
    checks = {
        "sent_as_expected": sent == expected,
        "nothing_sent_twice": again == 0 and stored == events == emails == expected,
    }
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "teams": teams,
        "players": teams * players,
        "due": due,
        "sent": sent,
        "concurrency": concurrency,
        "first_run_s": round(first, 3),
        "first_run_cpu_s": round(first_cpu, 3),
        "next_minute_s": round(steady, 3),
        "target_s": TARGET_S,
        "target_met": first < TARGET_S,
        "checks": checks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=250)
    parser.add_argument("--players", type=int, default=40)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=jobs.POSTGRESQL_CONCURRENCY,
        help="teams at once (the worker's setting on PostgreSQL by default)",
    )
    args = parser.parse_args()
    admin_url = os.environ.get("LOADLINE_BENCH_PG_URL", DEFAULT_ADMIN_URL)
    results = asyncio.run(run(admin_url, args.teams, args.players, args.concurrency))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    if not (results["target_met"] and all(results["checks"].values())):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
