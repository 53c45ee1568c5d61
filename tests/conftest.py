"""Pytest fixtures: a real migrated database per run, real HTTP through ASGITransport.

Each run creates its own database and drops it afterwards. Each test runs inside a
transaction that is rolled back (sessions join it through SAVEPOINTs); tests that need
real commits and separate connections take ``committed_db`` (or ``live_api`` over it)
instead, a fresh database of their own. What the fixtures are built from is in
``tests/fixtures/``; a real SMTP server (``smtp_server``, ``start_smtp``) comes from
``tests/fixtures/smtp.py``.
"""

import ipaddress
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import create_engine, migrate
from app.main import create_app
from app.services.outbound import subscriptions as outbound
from tests.fixtures.actors import Api, Squad, build_squad
from tests.fixtures.databases import BACKEND, create_database, drop_database, rolled_back
from tests.fixtures.smtp import smtp_server, start_smtp

__all__ = ["smtp_server", "start_smtp"]  # pytest fixtures of tests/fixtures/smtp.py


def pytest_report_header() -> str:
    return f"loadline database backend: {BACKEND}"


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test asks a real DNS server: an outbound webhook's name resolves only when it is
    an address or ``localhost`` (the fuzzer invents URLs of made-up hosts, and this machine's
    resolver is off-limits). Tests of resolution patch ``outbound.resolve`` themselves."""
    real = outbound.resolve

    async def loopback_only(host: str) -> list[str]:
        if host != "localhost":
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise socket.gaierror(socket.EAI_NONAME, "not resolved in tests") from None
        return await real(host)

    monkeypatch.setattr(outbound, "resolve", loopback_only)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(
        database_url="unused",
        secret_key="test-secret-key-that-is-long-enough",
        scheduler="off",
        public_base_url="http://testserver",
        # Every test registers from the one test address; the throttle's own tests turn it on.
        register_max_per_ip=0,
    )


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    url = await create_database(tmp_path_factory)
    await migrate(url)
    yield url
    await drop_database(url)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions that join one outer transaction, rolled back when the test ends."""
    async with rolled_back(engine) as (_, maker):
        yield maker


@pytest.fixture
async def empty_database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A fresh database with no schema at all, dropped after the test."""
    url = await create_database(tmp_path_factory)
    yield url
    await drop_database(url)


@pytest.fixture
async def committed_db(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A fresh migrated database with real commits, for concurrency tests; dropped after."""
    url = await create_database(tmp_path_factory)
    await migrate(url)
    engine = create_engine(url)
    yield async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    await engine.dispose()
    await drop_database(url)


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings


@pytest.fixture
async def client(
    sessionmaker: async_sessionmaker[AsyncSession], app_settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(app_settings, sessionmaker)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def api(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> Api:
    return Api(client, sessionmaker, settings)


@pytest.fixture
async def squad(api: Api) -> Squad:
    return await build_squad(api)


@pytest.fixture
async def live_api(
    committed_db: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[Api]:
    """The API over a database of its own with real commits (concurrency, jobs)."""
    app = create_app(settings, committed_db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield Api(client, committed_db, settings)
