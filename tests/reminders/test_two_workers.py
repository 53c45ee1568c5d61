"""Two real worker processes run the reminders job at the same moment against one
database (on PostgreSQL each with several teams at once, as the scheduler runs it): every
reminder is stored, announced and emailed exactly once."""

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import EmailMessage, OutboundDelivery, Reminder, Role, TeamMembership, User
from tests.fixtures.actors import Api

ROOT = Path(__file__).resolve().parents[2]
TARGET = "https://93.184.216.34/hooks/loadline"
TEAMS, PLAYERS = 3, 40

# Each process waits until both are ready (imports done, engine built), then runs the job.
WORKER = """
import asyncio, sys, time
from datetime import datetime
from pathlib import Path
from app.config import get_settings
from app.db import create_engine, create_sessionmaker
from app.services.reminders import jobs

async def main() -> None:
    settings = get_settings()
    engine = create_engine(settings.database_url)
    maker = create_sessionmaker(engine)
    async with maker() as db:
        await db.connection()
    barrier, me, now = Path(sys.argv[1]), sys.argv[2], datetime.fromisoformat(sys.argv[3])
    (barrier / me).touch()
    while len(list(barrier.iterdir())) < 2:
        time.sleep(0.001)
    concurrency = jobs.POSTGRESQL_CONCURRENCY if engine.dialect.name == "postgresql" else 1
    sent = await jobs.send_due(maker, settings, now=now, concurrency=concurrency)
    await engine.dispose()
    print(f"sent={sent}")

asyncio.run(main())
"""


async def _world(api: Api, db: async_sessionmaker[AsyncSession]) -> datetime:
    """TEAMS teams of PLAYERS players (every other one unclaimed), wellness at 06:00 and
    sRPE 10 minutes after a session that ended an hour ago; returns a moment when both
    are due."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    for number in range(TEAMS):
        owner = await api.user(f"owner{number}")
        team = await api.team(owner)
        response = await api.client.patch(
            f"/teams/{team['id']}",
            json={"reminders": {"wellness_at": "00:00", "srpe_after_minutes": 10}},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        response = await api.client.post(
            f"/teams/{team['id']}/outbound-webhooks",
            json={"url": TARGET, "events": ["reminder.due"]},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
        await api.session(team, owner, start=start, minutes=60)
        async with db.begin() as session:
            users = [
                User(
                    email=f"p{number}-{i}@example.com",
                    full_name=f"Player {i}",
                    password_hash=None if i % 2 else "claimed",
                )
                for i in range(PLAYERS)
            ]
            session.add_all(users)
            await session.flush()
            session.add_all(
                TeamMembership(team_id=team["id"], user_id=u.id, role=Role.PLAYER) for u in users
            )
    return start + timedelta(minutes=75)


async def test_two_workers_at_once_send_each_reminder_once(
    live_api: Api, committed_db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    now = await _world(live_api, committed_db)
    url = committed_db.kw["bind"].url.render_as_string(hide_password=False)
    env = os.environ | {
        "LOADLINE_DATABASE_URL": url,
        "LOADLINE_EMAIL_BACKEND": "console",
        "PYTHONPATH": str(ROOT),
    }
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            str(barrier),
            name,
            now.isoformat(),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for name in ("a", "b")
    ]
    outputs = [
        (await asyncio.wait_for(p.communicate(), timeout=120))[0].decode() for p in processes
    ]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert all("reminders_team_failed" not in out for out in outputs), outputs
    sent = [int(out.strip().splitlines()[-1].removeprefix("sent=")) for out in outputs]
    expected = TEAMS * PLAYERS * 2  # wellness and sRPE, every player
    assert sum(sent) == expected, outputs

    async with committed_db() as db:

        async def count(query: object) -> int:
            return int(await db.scalar(query) or 0)  # type: ignore[call-overload]

        reminders = await count(select(func.count()).select_from(Reminder))
        distinct = await count(
            select(func.count()).select_from(
                select(Reminder.membership_id, Reminder.kind, Reminder.occasion)
                .distinct()
                .subquery()
            )
        )
        events = await count(
            select(func.count())
            .select_from(OutboundDelivery)
            .where(OutboundDelivery.event == "reminder.due")
        )
        emails = await count(
            select(func.count())
            .select_from(EmailMessage)
            .where(EmailMessage.kind.in_(["reminder_wellness", "reminder_srpe"]))
        )
    assert (reminders, distinct, events, emails) == (expected, expected, expected, expected // 2)
