"""Graceful shutdown: requests in flight finish, jobs stop between teams, the worker obeys
SIGTERM. The uvicorn and worker tests run real processes and signal them."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import migrate
from app.main import create_app
from app.models import AcwrState
from app.scheduler import Scheduler
from app.services.acwr.jobs import recompute_dirty
from app.services.integrations.context import VendorContext, new_http_client
from tests.fixtures.actors import Api
from tests.fixtures.databases import create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]

# Serves ``slow_app`` exactly as ``loadline serve`` serves the app (same uvicorn options).
SERVER = """
import sys, uvicorn
from app.cli import uvicorn_options
options = uvicorn_options("127.0.0.1", int(sys.argv[1]), 1)
uvicorn.run("tests.operations.test_shutdown:slow_app", factory=True, **options)
"""


def slow_app() -> FastAPI:
    """The real app plus ``GET /slow``, which marks that it started, then takes its time."""
    app = create_app()
    marker = Path(os.environ["LOADLINE_TEST_MARKER"])
    seconds = float(os.environ["LOADLINE_TEST_SLOW_SECONDS"])

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.to_thread(marker.touch)
        await asyncio.sleep(seconds)
        return {"done": True}

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds} s")
        await asyncio.sleep(0.05)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOADLINE_")}
    return env | {
        "LOADLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        "LOADLINE_SECRET_KEY": "test-secret-key-that-is-long-enough",
        "LOADLINE_SCHEDULER": "off",
        **extra,
    }


async def _serve_and_interrupt(tmp_path: Path, grace: float, slow: float) -> tuple[object, int]:
    """Start the server, send ``/slow``, SIGTERM while it runs; the answer (or the error)
    and the exit code."""
    port = _free_port()
    marker = tmp_path / "slow-started"
    env = _env(
        tmp_path,
        LOADLINE_SHUTDOWN_GRACE_SECONDS=str(grace),
        LOADLINE_TEST_MARKER=str(marker),
        LOADLINE_TEST_SLOW_SECONDS=str(slow),
    )
    process = _start([sys.executable, "-c", SERVER, str(port)], env, tmp_path / "server.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            await _until(lambda: _listening(port), 30, "the server starting")
            assert (await client.get("/healthz")).status_code == 200
            request = asyncio.create_task(client.get("/slow"))
            await _until(marker.exists, 10, "the slow request starting")
            process.send_signal(signal.SIGTERM)
            try:
                outcome: object = await request
            except httpx.HTTPError as exc:
                outcome = exc
        code = await asyncio.to_thread(process.wait, 15)
    finally:
        _kill(process)
    return outcome, code


def _start(command: list[str], env: dict[str, str], log: Path) -> "subprocess.Popen[bytes]":
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )


def _kill(process: "subprocess.Popen[bytes]") -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_a_request_in_flight_finishes_after_sigterm(tmp_path: Path) -> None:
    outcome, code = await _serve_and_interrupt(tmp_path, grace=10, slow=1.5)
    assert isinstance(outcome, httpx.Response), outcome
    assert (outcome.status_code, outcome.json()) == (200, {"done": True})
    # uvicorn re-raises the signal it caught once it has shut down cleanly
    assert code in (0, -signal.SIGTERM), (tmp_path / "server.log").read_text()
    assert "Traceback" not in (tmp_path / "server.log").read_text()


async def test_a_request_beyond_the_grace_period_is_cut_off(tmp_path: Path) -> None:
    """The grace is a bound: a request still running after it does not hold up the exit."""
    started = time.monotonic()
    outcome, _ = await _serve_and_interrupt(tmp_path, grace=0.5, slow=30)
    assert time.monotonic() - started < 20
    assert not (isinstance(outcome, httpx.Response) and outcome.status_code == 200), outcome


@pytest.fixture
async def world(
    committed_db: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[Api]:
    app = create_app(settings, committed_db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(client, committed_db, settings)


async def _dirty_team(api: Api) -> int:
    """A team whose one player has an sRPE, so their ACWR is marked dirty."""
    coach, player = await api.user("coach"), await api.user("player")
    team = await api.team(coach)
    membership = await api.join(team, coach, player)
    session = await api.session(team, coach)
    response = await api.client.post(
        f"/performance/sessions/{session['id']}/srpe",
        json={"membership_id": membership["id"], "rpe_0_10": 6},
        headers=coach.headers,
    )
    assert response.status_code == 201, response.text
    return int(team["id"])


async def _dirty_teams(sessionmaker: async_sessionmaker[AsyncSession]) -> set[int]:
    async with sessionmaker() as session:
        query = select(AcwrState.team_id).where(AcwrState.dirty_from.is_not(None))
        return set(await session.scalars(query))


async def test_the_dirty_job_stops_after_the_current_team(world: Api) -> None:
    teams = [await _dirty_team(world) for _ in range(3)]
    assert await _dirty_teams(world.sessionmaker) == set(teams)
    asked: list[bool] = []

    def stop_after_first_team() -> bool:
        asked.append(len(asked) >= 1)
        return asked[-1]

    computed = await recompute_dirty(world.sessionmaker, stop=stop_after_first_team)
    assert computed > 0
    assert asked == [False, True]
    assert await _dirty_teams(world.sessionmaker) == set(teams[1:])


@pytest.fixture
async def jobs(committed_db: async_sessionmaker[AsyncSession], settings: Settings) -> Scheduler:
    engine = committed_db.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return Scheduler(engine, committed_db, VendorContext(settings, new_http_client()))


def _coroutine(call: Awaitable[None]) -> Coroutine[Any, Any, None]:
    """A locked job's call, as create_task takes it: a Job is typed as returning any
    Awaitable, and the one Scheduler._locked returns is a coroutine function."""
    return cast(Coroutine[Any, Any, None], call)


async def test_stop_waits_for_a_running_job_to_reach_its_stopping_point(jobs: Scheduler) -> None:
    steps: list[int] = []

    async def batches() -> None:
        for step in range(100):
            if jobs.stopping:
                return
            await asyncio.sleep(0.02)  # one batch's work
            steps.append(step)

    running = asyncio.create_task(_coroutine(jobs._locked("test.batches", batches)()))
    await _until(lambda: len(steps) >= 2, 5, "the job starting")
    await jobs.stop(grace=5)
    assert running.done() and not running.cancelled()
    assert 2 <= len(steps) < 100
    # Once stopping, a job that comes due does not start.
    await jobs._locked("test.batches", batches)()
    assert len(steps) < 100


async def test_stop_cancels_a_job_that_outlives_the_grace(jobs: Scheduler) -> None:
    started = asyncio.Event()

    async def stubborn() -> None:
        started.set()
        await asyncio.sleep(30)

    running = asyncio.create_task(_coroutine(jobs._locked("test.stubborn", stubborn)()))
    await started.wait()
    await jobs.stop(grace=0.2)
    assert running.cancelled()


async def test_the_worker_serves_its_metrics_and_stops_on_sigterm(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    url = await create_database(tmp_path_factory)
    try:
        await migrate(url)
        folder = tmp_path_factory.mktemp("worker")
        port = _free_port()
        env = _env(
            folder,
            LOADLINE_DATABASE_URL=url,
            LOADLINE_SHUTDOWN_GRACE_SECONDS="5",
            LOADLINE_WORKER_METRICS_PORT=str(port),
            LOADLINE_WORKER_METRICS_HOST="127.0.0.1",
        )
        log = folder / "worker.log"
        process = _start(
            [sys.executable, "-c", "from app.cli import main; main()", "worker"], env, log
        )
        try:
            await _until(lambda: "Worker running" in log.read_text(), 30, "the worker starting")
            async with httpx.AsyncClient() as client:
                scraped = await client.get(f"http://127.0.0.1:{port}/metrics")
            assert scraped.status_code == 200
            assert "loadline_job_runs" in scraped.text
            process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(process.wait, 15)
        finally:
            _kill(process)
        output_text = log.read_text()
        assert code == 0, output_text
        assert "Worker stopped." in output_text
        assert "Traceback" not in output_text
    finally:
        await drop_database(url)
