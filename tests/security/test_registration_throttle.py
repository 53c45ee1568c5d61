"""POST /auth/register is bounded per client address: each registration costs a password
hash and may create an account, and a 409 tells whether an email is registered."""

from datetime import timedelta

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from app.models import User
from app.models.base import utcnow
from app.models.users import LoginThrottle
from tests.fixtures.actors import PASSWORD, Api

LIMIT = 3


def _client(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], address: str
) -> httpx.AsyncClient:
    throttled = settings.model_copy(update={"register_max_per_ip": LIMIT})
    transport = httpx.ASGITransport(app=create_app(throttled, sessionmaker), client=(address, 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _register(client: httpx.AsyncClient, email: str) -> httpx.Response:
    body = {"email": email, "password": "a long enough password", "full_name": "New Player"}
    return await client.post("/auth/register", json=body)


async def _accounts(sessionmaker: async_sessionmaker[AsyncSession], domain: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(User).where(User.email.like(f"%@{domain}"))
        )
    return int(count or 0)


async def test_registrations_past_the_limit_are_429_and_create_nothing(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with _client(settings, sessionmaker, "198.51.100.70") as client:
        first = await _register(client, "one@flood.example")
        again = await _register(client, "one@flood.example")  # a 409 counts too
        second = await _register(client, "two@flood.example")
        assert [first.status_code, again.status_code, second.status_code] == [201, 409, 201]
        refused = await _register(client, "three@flood.example")
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "registrations from this address" in refused.json()["detail"]
    assert 0 < int(refused.headers["retry-after"]) <= 60 * 60
    assert await _accounts(sessionmaker, "flood.example") == 2


async def test_another_address_may_still_register(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with _client(settings, sessionmaker, "198.51.100.71") as client:
        for n in range(LIMIT):
            assert (await _register(client, f"p{n}@busy.example")).status_code == 201
        assert (await _register(client, "late@busy.example")).status_code == 429
    async with _client(settings, sessionmaker, "203.0.113.71") as elsewhere:
        assert (await _register(elsewhere, "late@busy.example")).status_code == 201


async def test_registrations_are_allowed_again_once_the_window_is_over(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with _client(settings, sessionmaker, "198.51.100.72") as client:
        for n in range(LIMIT + 1):
            await _register(client, f"w{n}@window.example")
        async with sessionmaker.begin() as session:
            await session.execute(
                update(LoginThrottle).values(window_start=utcnow() - timedelta(minutes=61))
            )
        assert (await _register(client, "after@window.example")).status_code == 201


async def test_the_429_is_documented(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    answer = schema["paths"]["/auth/register"]["post"]["responses"]["429"]
    assert "Retry-After" in answer["headers"]
    assert "application/problem+json" in answer["content"]


async def test_a_sign_in_does_not_forget_a_running_registration_window(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], api: Api
) -> None:
    """Sign-ins clear counters older than their own 15-minute window; a registration
    counter 20 minutes into its 60-minute window must survive that."""
    async with _client(settings, sessionmaker, "198.51.100.73") as client:
        for n in range(LIMIT):
            assert (await _register(client, f"s{n}@purge.example")).status_code == 201
        async with sessionmaker.begin() as session:
            await session.execute(
                update(LoginThrottle).values(window_start=utcnow() - timedelta(minutes=20))
            )
        user = await api.user("signer")
        signed_in = await client.post(
            "/auth/token", data={"username": user.email, "password": PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        assert (await _register(client, "late@purge.example")).status_code == 429
