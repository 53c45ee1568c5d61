"""The database going away: readiness answers in time, requests get 503, the service heals.

Issue 10 items 12 and 13: with backends terminated mid-traffic, requests answered 500;
``/readyz`` queued for the request pool and took 7-9 s with every connection busy.
"""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.config import Settings
from app.db import member_day_slots, migrate
from app.main import create_app
from tests.fixtures.actors import Api
from tests.fixtures.databases import BACKEND, PG_ADMIN_URL, create_database, drop_database

pg_only = pytest.mark.skipif(BACKEND != "postgresql", reason="terminates PostgreSQL backends")


@contextlib.asynccontextmanager
async def _served(settings: Settings, url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app as ``loadline serve`` builds it (its own engine, pool and probe), on ``url``."""
    app = create_app(settings.model_copy(update={"database_url": url}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client


@pytest.fixture
async def migrated_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    url = await create_database(tmp_path_factory)
    await migrate(url)
    yield url
    await drop_database(url)


def _engine(app: FastAPI) -> AsyncEngine:
    engine: AsyncEngine = app.state.sessionmaker.kw["bind"]
    return engine


async def test_readyz_answers_while_every_pooled_connection_is_busy(
    settings: Settings, migrated_url: str
) -> None:
    async with _served(settings, migrated_url) as (app, client):
        engine = _engine(app)
        capacity = engine.pool.size() + engine.pool._max_overflow  # type: ignore[attr-defined]
        async with contextlib.AsyncExitStack() as held:
            for _ in range(capacity):
                await held.enter_async_context(engine.connect())
            # The request pool is exhausted: its own wait would be 30 s (pool_timeout).
            ready = await asyncio.wait_for(client.get("/readyz"), timeout=5)
        assert (ready.status_code, ready.json()) == (200, {"status": "ok"})


async def test_readyz_is_a_503_problem_when_the_server_is_gone(settings: Settings) -> None:
    """A server that refuses connections (nothing listens on port 1), or an SQLite file
    that cannot be opened: 503 problem+json with Retry-After, within the probe's second."""
    if BACKEND == "postgresql":
        url = make_url(PG_ADMIN_URL).set(port=1).render_as_string(hide_password=False)
    else:
        url = "sqlite+aiosqlite:////nonexistent-dir/loadline.db"
    async with _served(settings, url) as (_, client):
        ready = await asyncio.wait_for(client.get("/readyz"), timeout=5)
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        assert int(ready.headers["retry-after"]) > 0
        # A request needing the database is a 503 too, not a 500.
        token_route = await client.post(
            "/auth/token", data={"username": "a@example.com", "password": "whatever1"}
        )
        assert token_route.status_code == 503, token_route.text
        assert "retry-after" in token_route.headers


@pg_only
async def test_a_server_name_whose_every_address_refuses_is_a_503(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the review: a name with several addresses that all refuse raises a plain
    ``OSError("Multiple exceptions...")`` in the driver, not a ``ConnectionError``; it was
    a 500. ``db.test`` resolves to two loopback addresses where nothing listens."""
    real = asyncio.get_running_loop().getaddrinfo

    async def two_addresses(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "db.test":
            return await real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 1))
            for address in ("127.0.0.2", "127.0.0.3")
        ]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", two_addresses)
    url = make_url(PG_ADMIN_URL).set(host="db.test", port=1).render_as_string(False)
    async with _served(settings, url) as (_, client):
        response = await client.post(
            "/auth/token", data={"username": "a@example.com", "password": "whatever1"}
        )
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"


async def _terminate(database: str, *, waiting_only: bool = False) -> int:
    """Terminate the backends serving ``database`` (as a failover or an admin would)."""
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    query = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = :db AND pid <> pg_backend_pid()"
    )
    if waiting_only:
        query += " AND wait_event_type = 'Lock'"
    try:
        async with admin.connect() as conn:
            return int((await conn.execute(text(query), {"db": database})).scalar_one())
    finally:
        await admin.dispose()


@pg_only
async def test_connections_terminated_mid_request_are_503_and_the_service_recovers(
    settings: Settings, migrated_url: str
) -> None:
    database = make_url(migrated_url).database
    assert database is not None
    async with _served(settings, migrated_url) as (app, client):
        api = Api(client, app.state.sessionmaker, settings)
        coach, player = await api.user("coach"), await api.user("player")
        team = await api.team(coach)
        membership = await api.join(team, coach, player)
        start = (datetime.now(UTC) - timedelta(days=1)).replace(hour=9, minute=0, second=0)
        session = await api.session(team, coach, start=start, minutes=60)
        url = f"/performance/sessions/{session['id']}/srpe"
        body = {"membership_id": membership["id"], "rpe_0_10": 5}
        # Hold the write mid-way (its day lock taken from outside), then kill its backend.
        blocker: AsyncConnection
        async with _engine(app).connect() as blocker:
            slot = member_day_slots([start.date()])[0]
            await blocker.execute(
                text("SELECT pg_advisory_lock(:m, :d)"), {"m": membership["id"], "d": slot}
            )
            write = asyncio.create_task(client.post(url, json=body, headers=player.headers))
            for _ in range(100):
                await asyncio.sleep(0.05)
                if await _terminate(database, waiting_only=True):
                    break
            answer = await asyncio.wait_for(write, timeout=10)
            await blocker.rollback()
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "5"
        # Every connection of the pool is now dead; the service recovers without a restart.
        await _terminate(database)
        statuses = [
            (await client.get(f"/teams/{team['id']}/roster", headers=coach.headers)).status_code
            for _ in range(5)
        ]
        assert 500 not in statuses and statuses[-1] == 200, statuses
        retried = await client.post(url, json=body, headers=player.headers)
        assert retried.status_code == 201, retried.text
        ready = await client.get("/readyz")
        assert ready.status_code == 200
