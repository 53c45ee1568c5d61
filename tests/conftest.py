"""Test fixtures: a real migrated database per run, real HTTP through ASGITransport.

The backend is chosen by ``LOADLINE_TEST_DATABASE`` (``sqlite``, the default, or
``postgresql``; the server is ``LOADLINE_TEST_PG_URL``). Each run creates its own database
and drops it afterwards. Each test runs inside a transaction that is rolled back
(sessions join it through SAVEPOINTs); tests that need real commits and separate
connections take ``committed_db`` instead, a fresh database of their own.
"""

import ipaddress
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings
from app.db import create_engine, migrate
from app.main import create_app
from app.models import User
from app.services.accounts import service as accounts
from app.services.accounts import tokens
from app.services.outbound import subscriptions as outbound

BACKEND = os.environ.get("LOADLINE_TEST_DATABASE", "sqlite")
PG_ADMIN_URL = os.environ.get(
    "LOADLINE_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = "correct horse battery"
_PASSWORD_HASH = accounts.hash_password(PASSWORD)


def pytest_report_header() -> str:
    return f"loadline database backend: {BACKEND}"


async def create_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    if BACKEND == "sqlite":
        path = tmp_path_factory.mktemp("db") / f"{uuid.uuid4().hex}.db"
        return f"sqlite+aiosqlite:///{path}"
    name = f"loadline_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    if BACKEND == "sqlite":
        return
    name = make_url(url).database
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


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
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield async_sessionmaker(
            bind=connection,
            expire_on_commit=False,
            autoflush=False,
            join_transaction_mode="create_savepoint",
        )
        await transaction.rollback()


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


def started_at(day: date, hour: int = 10) -> datetime:
    """A start on ``day`` that has already happened (an sRPE needs a started session):
    ``hour`` o'clock UTC, or just now when that is still to come today (runs after
    midnight UTC would otherwise plan today's sessions in the future)."""
    wanted = datetime.combine(day, time(hour), UTC)
    now = datetime.now(UTC) - timedelta(seconds=1)
    return max(datetime.combine(day, time(0), UTC), min(wanted, now))


@dataclass
class Actor:
    """A signed-in user as the tests drive them: id, email and auth headers."""

    id: int
    email: str
    headers: dict[str, str] = field(default_factory=dict)


class Api:
    """Builds the world a test needs through the real HTTP API (users excepted, for speed)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        self.client = client
        self.sessionmaker = sessionmaker
        self.settings = settings

    async def user(self, name: str = "user", *, admin: bool = False) -> Actor:
        email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
        async with self.sessionmaker.begin() as session:
            user = User(
                email=email, full_name=name.title(), password_hash=_PASSWORD_HASH, is_admin=admin
            )
            session.add(user)
            await session.flush()
            user_id = user.id
        token = tokens.encode_access_token(self.settings, user_id)
        return Actor(user_id, email, {"Authorization": f"Bearer {token}"})

    async def team(self, owner: Actor, timezone: str = "UTC", **acwr: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/teams", json={"name": "Harbour RFC", "timezone": timezone}, headers=owner.headers
        )
        assert response.status_code == 201, response.text
        team: dict[str, Any] = response.json()
        if acwr:
            response = await self.client.patch(
                f"/teams/{team['id']}", json={"acwr": acwr}, headers=owner.headers
            )
            assert response.status_code == 200, response.text
            team = response.json()
        return team

    async def join(
        self, team: dict[str, Any], staff: Actor, user: Actor, role: str = "PLAYER", **fields: Any
    ) -> dict[str, Any]:
        response = await self.client.post(
            f"/teams/{team['id']}/members",
            json={"email": user.email, "full_name": "Member", "role": role, **fields},
            headers=staff.headers,
        )
        assert response.status_code == 201, response.text
        membership: dict[str, Any] = response.json()
        return membership

    async def session(
        self,
        team: dict[str, Any],
        staff: Actor,
        *,
        start: datetime | None = None,
        minutes: int = 90,
        **fields: Any,
    ) -> dict[str, Any]:
        start = start or datetime.now(UTC) - timedelta(hours=3)
        response = await self.client.post(
            "/performance/sessions",
            json={
                "team_id": team["id"],
                "title": "Training",
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=minutes)).isoformat(),
                **fields,
            },
            headers=staff.headers,
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


@dataclass
class Squad:
    """A team with an owner, a coach, two players, and an outsider who coaches another team."""

    team: dict[str, Any]
    owner: Actor
    coach: Actor
    player: Actor
    teammate: Actor
    outsider: Actor
    admin: Actor
    player_membership: dict[str, Any]
    teammate_membership: dict[str, Any]
    coach_membership: dict[str, Any]


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
    owner, coach, player, teammate, outsider = [
        await api.user(name) for name in ("owner", "coach", "player", "teammate", "outsider")
    ]
    admin = await api.user("admin", admin=True)
    team = await api.team(owner)
    coach_membership = await api.join(team, owner, coach, role="COACH")
    player_membership = await api.join(team, coach, player, jersey_number=9)
    teammate_membership = await api.join(team, coach, teammate)
    await api.team(outsider)
    return Squad(
        team,
        owner,
        coach,
        player,
        teammate,
        outsider,
        admin,
        player_membership,
        teammate_membership,
        coach_membership,
    )
