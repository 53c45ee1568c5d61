"""Concurrent writers with real commits and separate connections never lose a load."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.db import _team_lock_key, member_day_slots
from app.models import WellnessLog
from app.schemas.performance import SessionUpdate
from app.services.training import sessions as sessions_service
from tests.fixtures.actors import Api
from tests.fixtures.databases import BACKEND


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
            {"m": membership["id"], "d": member_day_slots([old_day])[0]},
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
            {"m": membership["id"], "d": member_day_slots([old_day])[0]},
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


async def _loads(api: Api, headers: dict[str, str], member: int, days: list[str]) -> list[int]:
    response = await api.client.get(
        f"/performance/members/{member}/daily-loads",
        params={"from": days[0], "to": days[-1]},
        headers=headers,
    )
    return [row["internal_load_au"] for row in response.json()]


async def test_a_move_from_a_stale_read_recomputes_the_day_the_session_is_on_now(
    live_api: Api, committed_db: async_sessionmaker[AsyncSession]
) -> None:
    """Coach B reads the session, coach A moves it (committed), then B moves it again: B's
    move must take the load off the day A moved it to, not off the day B read."""
    coach, player = await live_api.user("coach"), await live_api.user("player")
    team = await live_api.team(coach)
    member = (await live_api.join(team, coach, player))["id"]
    start = (datetime.now(UTC) - timedelta(days=5)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    session = await live_api.session(team, coach, start=start, minutes=60)
    written = await live_api.client.post(
        f"/performance/sessions/{session['id']}/srpe",
        json={"membership_id": member, "rpe_0_10": 5},
        headers=player.headers,
    )
    assert written.status_code == 201

    def moved(days: int) -> dict[str, str]:
        begin = start + timedelta(days=days)
        return {"start": begin.isoformat(), "end": (begin + timedelta(hours=1)).isoformat()}

    async with committed_db() as coach_b:
        access = await sessions_service.session_access(
            coach_b, coach.id, session["id"], coaching=True
        )
        await coach_b.commit()  # B has read the session on its first day, and holds nothing
        by_a = await live_api.client.patch(
            f"/performance/sessions/{session['id']}", json=moved(1), headers=coach.headers
        )
        assert by_a.status_code == 200
        changes = SessionUpdate.model_validate(moved(2))
        await sessions_service.update(coach_b, access, changes)
        await coach_b.commit()
    days = [(start + timedelta(days=i)).date().isoformat() for i in range(3)]
    assert await _loads(live_api, coach.headers, member, days) == [0, 0, 300]


async def _squad_with_session(api: Api, days_ago: int, hour: int) -> tuple[Any, ...]:
    """A coach, a player, their team, the player's membership id and a past 60-min session."""
    coach, player = await api.user("coach"), await api.user("player")
    team = await api.team(coach)
    member = (await api.join(team, coach, player))["id"]
    start = (datetime.now(UTC) - timedelta(days=days_ago)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )
    session = await api.session(team, coach, start=start, minutes=60)
    return coach, player, team, member, session, start


@contextlib.asynccontextmanager
async def _team_lock_held(
    committed_db: async_sessionmaker[AsyncSession], team_id: int
) -> AsyncIterator[AsyncConnection]:
    """Another connection holding the team's advisory lock exclusively (as a zone change
    does) until the test calls :func:`_release`; yields that connection."""
    async with committed_db.kw["bind"].connect() as blocker:
        await blocker.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _team_lock_key(team_id)})
        await blocker.commit()
        yield blocker


async def _release(blocker: AsyncConnection, team_id: int) -> None:
    await blocker.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _team_lock_key(team_id)})
    await blocker.commit()


def _srpe_in_background(
    api: Api, player: Any, session: dict[str, Any], member: int, *, rpe: float
) -> asyncio.Task[httpx.Response]:
    """The player's sRPE for the session, sent while the test goes on (it may have to wait)."""
    return asyncio.create_task(
        api.client.post(
            f"/performance/sessions/{session['id']}/srpe",
            json={"membership_id": member, "rpe_0_10": rpe},
            headers=player.headers,
        )
    )


@pytest.mark.skipif(BACKEND != "postgresql", reason="row and advisory locks are PostgreSQL's")
async def test_a_time_zone_change_and_an_srpe_write_both_succeed(
    live_api: Api, committed_db: async_sessionmaker[AsyncSession]
) -> None:
    """The zone change queues for the team's lock first, the sRPE (holding its session row)
    behind it: the zone change must not then wait for that row while holding the team."""
    client = live_api.client
    coach, player, team, member, session, start = await _squad_with_session(live_api, 3, 12)
    async with _team_lock_held(committed_db, team["id"]) as blocker:
        rezone = asyncio.create_task(
            client.patch(
                f"/teams/{team['id']}",
                json={"timezone": "Pacific/Kiritimati"},
                headers=coach.headers,
            )
        )
        await asyncio.sleep(0.5)
        write = _srpe_in_background(live_api, player, session, member, rpe=5)
        await asyncio.sleep(0.5)
        await _release(blocker, team["id"])
        rezoned, written = await asyncio.gather(rezone, write)
    assert (rezoned.status_code, written.status_code) == (200, 201), (rezoned.text, written.text)
    local_day = (start + timedelta(hours=14)).date().isoformat()  # UTC+14
    assert await _loads(live_api, coach.headers, member, [local_day]) == [300]


@pytest.mark.skipif(BACKEND != "postgresql", reason="advisory locks are PostgreSQL's")
async def test_a_writer_takes_no_day_lock_while_its_team_is_held_exclusively(
    live_api: Api, committed_db: async_sessionmaker[AsyncSession]
) -> None:
    """The team's lock and the member's day locks come in one statement: the day locks
    must still wait for the team's, or a writer could hold a day while a zone change
    holds the team."""
    coach, player, team, member, session, start = await _squad_with_session(live_api, 2, 9)
    day_locks = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 "
        "AND classid = :member AND granted"
    )
    async with _team_lock_held(committed_db, team["id"]) as blocker:
        write = _srpe_in_background(live_api, player, session, member, rpe=6)
        await asyncio.sleep(0.5)
        assert not write.done()
        assert await blocker.scalar(day_locks, {"member": member}) == 0
        await blocker.commit()
        await _release(blocker, team["id"])
        written = await write
    assert written.status_code == 201, written.text
    assert await _loads(live_api, coach.headers, member, [start.date().isoformat()]) == [360]


@pytest.mark.skipif(BACKEND != "postgresql", reason="deadlocks need PostgreSQL's row locks")
async def test_deleting_and_writing_an_srpe_at_once_never_deadlocks(live_api: Api) -> None:
    """40 rounds of a player's sRPE write racing its deletion by the coach: every answer is
    a 2xx or the documented 404 (nothing to delete yet), never a 503 from a deadlock, and
    the day's load afterwards is what the surviving sRPE says."""
    client = live_api.client
    coach, player = await live_api.user("coach"), await live_api.user("player")
    team = await live_api.team(coach)
    membership = await live_api.join(team, coach, player)
    start = (datetime.now(UTC) - timedelta(days=1)).replace(hour=9, minute=0, second=0)
    session = await live_api.session(team, coach, start=start, minutes=60)
    url = f"/performance/sessions/{session['id']}/srpe"
    body = {"membership_id": membership["id"], "rpe_0_10": 5}
    statuses: list[int] = []
    for _ in range(40):
        assert (await client.post(url, json=body, headers=player.headers)).status_code in (
            200,
            201,
        )
        write, delete = await asyncio.gather(
            client.post(url, json=body, headers=player.headers),
            client.delete(f"{url}/{membership['id']}", headers=coach.headers),
        )
        statuses += [write.status_code, delete.status_code]
        assert write.status_code in (200, 201), write.text
        assert delete.status_code in (204, 404), delete.text
    assert not [s for s in statuses if s >= 500]
    day = start.date().isoformat()
    stored = await client.get(url, headers=coach.headers)
    expected = sum(entry["load_au"] for entry in stored.json())
    loads = await client.get(
        f"/performance/members/{membership['id']}/daily-loads",
        params={"from": day, "to": day},
        headers=coach.headers,
    )
    assert loads.json()[0]["internal_load_au"] == expected
