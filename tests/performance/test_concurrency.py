"""Concurrent writers with real commits and separate connections never lose a load."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from app.models import WellnessLog
from tests.conftest import BACKEND, Api


@pytest.fixture
async def live_api(
    committed_db: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[Api]:
    app = create_app(settings, committed_db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield Api(client, committed_db, settings)


async def test_50_concurrent_srpe_writes_sum_exactly(live_api: Api) -> None:
    client = live_api.client
    coach, player = await live_api.user("coach"), await live_api.user("player")
    team = await live_api.team(coach)
    membership = await live_api.join(team, coach, player)
    day_start = (datetime.now(UTC) - timedelta(days=1)).replace(
        hour=6, minute=0, second=0, microsecond=0
    )
    sessions = [
        await live_api.session(
            team, coach, start=day_start + timedelta(minutes=10 * i), minutes=10 + i
        )
        for i in range(50)
    ]

    async def write(i: int) -> httpx.Response:
        return await client.post(
            f"/performance/sessions/{sessions[i]['id']}/srpe",
            json={"membership_id": membership["id"], "rpe_0_10": (i % 10) + 0.5},
            headers=player.headers,
        )

    responses = await asyncio.gather(*(write(i) for i in range(50)))
    assert [r.status_code for r in responses] == [201] * 50
    expected = sum(r.json()["load_au"] for r in responses)
    day = day_start.date().isoformat()
    loads = await client.get(
        f"/performance/members/{membership['id']}/daily-loads",
        params={"from": day, "to": day},
        headers=coach.headers,
    )
    assert loads.json() == [{"date": day, "internal_load_au": expected, "external_load_pl": 0.0}]


async def test_20_concurrent_wellness_upserts_leave_one_row(
    live_api: Api, committed_db: async_sessionmaker[AsyncSession]
) -> None:
    client = live_api.client
    coach, player = await live_api.user("coach"), await live_api.user("player")
    team = await live_api.team(coach)
    membership = await live_api.join(team, coach, player)

    async def write(i: int) -> httpx.Response:
        return await client.post(
            "/performance/wellness",
            json={
                "membership_id": membership["id"],
                "date": "2026-02-02",
                "sleep_quality": 1 + i % 5,
                "mood": 3,
                "soreness": 3,
            },
            headers=player.headers,
        )

    responses = await asyncio.gather(*(write(i) for i in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201]
    async with committed_db() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(WellnessLog)
            .where(WellnessLog.membership_id == membership["id"])
        )
    assert count == 1


@pytest.mark.skipif(BACKEND != "postgresql", reason="row and advisory locks are PostgreSQL's")
async def test_an_srpe_racing_a_session_move_lands_on_the_new_day(
    live_api: Api, committed_db: async_sessionmaker[AsyncSession]
) -> None:
    """The sRPE write is held mid-way (its day lock taken from outside) while the session
    moves; once released, the load must be on the session's new day, not lost."""
    client = live_api.client
    coach, player = await live_api.user("coach"), await live_api.user("player")
    team = await live_api.team(coach)
    membership = await live_api.join(team, coach, player)
    old_start = (datetime.now(UTC) - timedelta(days=3)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    session = await live_api.session(team, coach, start=old_start, minutes=60)
    old_day, new_day = old_start.date(), old_start.date() + timedelta(days=1)

    engine = committed_db.kw["bind"]
    async with engine.connect() as blocker:
        await blocker.execute(
            text("SELECT pg_advisory_lock(:m, :d)"),
            {"m": membership["id"], "d": old_day.toordinal()},
        )
        await blocker.commit()
        write = asyncio.create_task(
            client.post(
                f"/performance/sessions/{session['id']}/srpe",
                json={"membership_id": membership["id"], "rpe_0_10": 5},
                headers=player.headers,
            )
        )
        await asyncio.sleep(0.5)
        move = asyncio.create_task(
            client.patch(
                f"/performance/sessions/{session['id']}",
                json={
                    "start": (old_start + timedelta(days=1)).isoformat(),
                    "end": (old_start + timedelta(days=1, hours=1)).isoformat(),
                },
                headers=coach.headers,
            )
        )
        await asyncio.sleep(0.5)
        await blocker.execute(
            text("SELECT pg_advisory_unlock(:m, :d)"),
            {"m": membership["id"], "d": old_day.toordinal()},
        )
        await blocker.commit()
        written, moved = await asyncio.gather(write, move)
    assert (written.status_code, moved.status_code) == (201, 200)
    loads = await client.get(
        f"/performance/members/{membership['id']}/daily-loads",
        params={"from": old_day.isoformat(), "to": new_day.isoformat()},
        headers=coach.headers,
    )
    assert [row["internal_load_au"] for row in loads.json()] == [0, 300]
