"""The background jobs and the commands that run them, against real commits."""

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, time, timedelta
from typing import cast

import pytest
from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import scheduler
from app.models import AcwrSnapshot, AcwrState
from app.services.acwr import jobs as acwr_jobs
from tests.fixtures.actors import Api
from tests.fixtures.databases import BACKEND

TODAY = datetime.now(UTC).date()
LOADLINE = os.path.join(os.path.dirname(sys.executable), "loadline")


async def _player_with_loads(api: Api, days: int = 20) -> tuple[int, dict[str, str]]:
    coach, player = await api.user("coach"), await api.user("player")
    team = await api.team(coach)
    membership = await api.join(team, coach, player)
    for back in range(days, 0, -1):
        start = datetime.combine(TODAY - timedelta(days=back), time(9), UTC)
        session = await api.session(team, coach, start=start, minutes=60)
        response = await api.client.post(
            f"/performance/sessions/{session['id']}/srpe",
            json={"membership_id": membership["id"], "rpe_0_10": 5 + back % 3},
            headers=player.headers,
        )
        assert response.status_code == 201
    return membership["id"], coach.headers


async def _state(db: async_sessionmaker[AsyncSession], membership_id: int) -> AcwrState:
    async with db() as session:
        state = await session.scalar(
            select(AcwrState).where(
                AcwrState.membership_id == membership_id, AcwrState.source == "INTERNAL"
            )
        )
        assert state is not None
        return state


async def test_the_dirty_job_computes_what_writes_marked(
    live_api: Api, committed_db: async_sessionmaker[AsyncSession]
) -> None:
    membership_id, headers = await _player_with_loads(live_api)
    assert (await _state(committed_db, membership_id)).dirty_from == TODAY - timedelta(days=20)

    computed = await acwr_jobs.recompute_dirty(committed_db)
    assert computed == 21  # 20 days of sessions and today
    state = await _state(committed_db, membership_id)
    assert (state.dirty_from, state.computed_through) == (None, TODAY)
    async with committed_db() as session:
        stored = await session.scalar(
            select(AcwrSnapshot).where(
                AcwrSnapshot.membership_id == membership_id, AcwrSnapshot.date == TODAY
            )
        )
    assert stored is not None
    answer = await live_api.client.get(
        f"/performance/members/{membership_id}/acwr",
        params={"from": TODAY.isoformat()},
        headers=headers,
    )
    assert answer.json()["points"][0]["acute_ewma"] == pytest.approx(stored.acute_ewma)
    assert await acwr_jobs.recompute_dirty(committed_db) == 0


async def test_the_midnight_job_advances_a_team_by_one_day(
    live_api: Api, committed_db: async_sessionmaker[AsyncSession]
) -> None:
    membership_id, _ = await _player_with_loads(live_api)
    await acwr_jobs.recompute_dirty(committed_db)
    team_id = (await _state(committed_db, membership_id)).team_id
    async with committed_db.begin() as session:
        # As if the clock had just passed midnight: today is not computed yet.
        await session.execute(update(AcwrState).values(computed_through=TODAY - timedelta(days=1)))
        snapshots = cast(Table, AcwrSnapshot.__table__)  # typed as any FromClause
        await session.execute(snapshots.delete().where(AcwrSnapshot.date == TODAY))
    computed = await acwr_jobs.advance_team(committed_db, team_id)
    assert computed == 1
    async with committed_db() as session:
        count = await session.scalar(
            select(func.count()).select_from(AcwrSnapshot).where(AcwrSnapshot.date == TODAY)
        )
    assert count == 1


@pytest.mark.skipif(BACKEND != "postgresql", reason="advisory locks exist on PostgreSQL only")
async def test_two_schedulers_never_run_the_same_job_at_once(
    committed_db: async_sessionmaker[AsyncSession],
) -> None:
    engine = committed_db.kw["bind"]
    async with scheduler.job_lock(engine, "acwr.dirty") as first:
        async with scheduler.job_lock(engine, "acwr.dirty") as second:
            assert (first, second) == (True, False)
        async with scheduler.job_lock(engine, "teams.sync") as other:
            assert other is True
    async with scheduler.job_lock(engine, "acwr.dirty") as again:
        assert again is True


def _env(db: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    url = db.kw["bind"].url.render_as_string(hide_password=False)
    return os.environ | {"LOADLINE_DATABASE_URL": url, "LOADLINE_LOG_LEVEL": "INFO"}


async def test_acwr_recompute_command_rebuilds_with_progress(
    live_api: Api, committed_db: async_sessionmaker[AsyncSession]
) -> None:
    membership_id, _ = await _player_with_loads(live_api, days=10)
    process = await asyncio.create_subprocess_exec(
        LOADLINE,
        "acwr",
        "recompute",
        env=_env(committed_db),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    text = output.decode()
    assert process.returncode == 0, text
    assert "ACWR internal" in text and "1/1" in text
    assert "Recomputed 11 athlete-days for 1 team(s)." in text
    assert (await _state(committed_db, membership_id)).computed_through == TODAY


async def test_worker_runs_the_jobs_and_stops_on_sigterm(
    live_api: Api, committed_db: async_sessionmaker[AsyncSession]
) -> None:
    membership_id, _ = await _player_with_loads(live_api, days=5)
    process = await asyncio.create_subprocess_exec(
        LOADLINE,
        "worker",
        env=_env(committed_db),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        for _ in range(300):  # up to a minute on a busy machine
            if (await _state(committed_db, membership_id)).dirty_from is None:
                break
            await asyncio.sleep(0.2)
        assert (await _state(committed_db, membership_id)).computed_through == TODAY
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, output.decode()
