"""POST /auth/token against password guessing: per email and per address, in the database."""

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from app.models import User
from app.models.base import utcnow
from app.models.users import LoginThrottle
from app.services.accounts import service as accounts
from tests.fixtures.actors import PASSWORD, Api

WRONG = "wrong-password"


async def _login(client: httpx.AsyncClient, email: str, password: str = WRONG) -> httpx.Response:
    return await client.post("/auth/token", data={"username": email, "password": password})


async def _guesses(client: httpx.AsyncClient, email: str, count: int) -> list[int]:
    return [(await _login(client, email)).status_code for _ in range(count)]


def _assert_throttled(response: httpx.Response, settings: Settings) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 429
    wait = int(response.headers["retry-after"])
    assert 0 < wait <= settings.login_window_minutes * 60


async def test_the_sixth_attempt_is_429_even_with_the_right_password(
    client: httpx.AsyncClient, api: Api, settings: Settings
) -> None:
    user = await api.user("keeper")
    assert await _guesses(client, user.email, 5) == [401] * 5
    _assert_throttled(await _login(client, user.email, PASSWORD), settings)
    # Another account is not affected.
    other = await api.user("other")
    assert (await _login(client, other.email, PASSWORD)).status_code == 200


async def test_the_email_is_throttled_whatever_its_case(
    client: httpx.AsyncClient, api: Api, settings: Settings
) -> None:
    user = await api.user("cased")
    await _guesses(client, user.email, 3)
    await _guesses(client, user.email.upper(), 2)
    _assert_throttled(await _login(client, f" {user.email} ", PASSWORD), settings)


async def test_a_success_resets_the_count(client: httpx.AsyncClient, api: Api) -> None:
    user = await api.user("forgetful")
    assert await _guesses(client, user.email, 4) == [401] * 4
    assert (await _login(client, user.email, PASSWORD)).status_code == 200
    assert await _guesses(client, user.email, 5) == [401] * 5
    assert (await _login(client, user.email)).status_code == 429


async def test_attempts_are_allowed_again_once_the_window_is_over(
    client: httpx.AsyncClient, api: Api
) -> None:
    user = await api.user("patient")
    await _guesses(client, user.email, 6)
    async with api.sessionmaker.begin() as session:
        await session.execute(
            update(LoginThrottle).values(window_start=utcnow() - timedelta(minutes=15, seconds=1))
        )
    assert (await _login(client, user.email, PASSWORD)).status_code == 200


def _client(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    address: str,
    per_ip: int = 3,
) -> httpx.AsyncClient:
    app = create_app(
        settings.model_copy(update={"login_max_attempts_per_ip": per_ip}), sessionmaker
    )
    transport = httpx.ASGITransport(app=app, client=(address, 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_one_address_is_throttled_across_emails(
    api: Api, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    users = [await api.user(f"sprayed{i}") for i in range(4)]
    async with _client(settings, sessionmaker, "198.51.100.7") as client:
        assert [(await _login(client, u.email)).status_code for u in users[:3]] == [401] * 3
        _assert_throttled(await _login(client, users[3].email, PASSWORD), settings)
    async with _client(settings, sessionmaker, "203.0.113.9") as other:
        assert (await _login(other, users[3].email, PASSWORD)).status_code == 200


async def test_successes_do_not_use_up_the_address(
    api: Api, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A club's players share one address: only failures count against it."""
    users = [await api.user(f"player{i}") for i in range(5)]
    async with _client(settings, sessionmaker, "198.51.100.8") as client:
        for user in users:
            assert (await _login(client, user.email, PASSWORD)).status_code == 200
        assert await _guesses(client, users[0].email, 3) == [401] * 3
        assert (await _login(client, users[1].email, PASSWORD)).status_code == 429


async def test_a_strangers_guesses_do_not_lock_the_owner_out(
    api: Api, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await api.user("coach-targeted")
    async with _client(settings, sessionmaker, "192.0.2.66", per_ip=50) as stranger:
        assert await _guesses(stranger, user.email, 5) == [401] * 5
        _assert_throttled(await _login(stranger, user.email, PASSWORD), settings)
    async with _client(settings, sessionmaker, "198.51.100.20") as owner:
        assert (await _login(owner, user.email, PASSWORD)).status_code == 200


async def test_guesses_spread_over_addresses_are_bounded_per_email(
    api: Api, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await api.user("coach-sprayed")
    spread = settings.model_copy(update={"login_max_attempts_per_email": 6})
    for n in range(3):
        async with _client(spread, sessionmaker, f"203.0.113.{n + 10}", per_ip=50) as guesser:
            assert await _guesses(guesser, user.email, 2) == [401] * 2
    async with _client(spread, sessionmaker, "203.0.113.50", per_ip=50) as late:
        _assert_throttled(await _login(late, user.email, PASSWORD), settings)


async def test_the_429_is_documented(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    answer = schema["paths"]["/auth/token"]["post"]["responses"]["429"]
    assert "Retry-After" in answer["headers"]
    assert "application/problem+json" in answer["content"]


async def test_concurrent_guesses_evaluate_at_most_the_limit(
    committed_db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Two replicas share the counter: many guesses at once, and only 5 are checked."""
    async with committed_db.begin() as session:
        user = User(
            email="target@example.com",
            full_name="Target",
            password_hash=accounts.hash_password(PASSWORD),
        )
        session.add(user)
    replicas = [create_app(settings, committed_db) for _ in range(2)]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        for app in replicas
    ]
    try:
        statuses = await asyncio.gather(
            *(_login(clients[i % 2], "target@example.com") for i in range(12))
        )
        codes = sorted(r.status_code for r in statuses)
        assert codes == [401] * 5 + [429] * 7, codes
        right = await _login(clients[0], "target@example.com", PASSWORD)
        assert right.status_code == 429
    finally:
        for c in clients:
            await c.aclose()


async def test_counters_whose_window_is_over_are_forgotten(
    client: httpx.AsyncClient, api: Api
) -> None:
    """So the table holds recent attempts only, not every email ever mistyped."""
    long_ago = utcnow() - timedelta(days=2)
    async with api.sessionmaker.begin() as session:
        session.add(LoginThrottle(key="email:stale", attempts=3, window_start=long_ago))
    user = await api.user("sweeper")
    assert (await _login(client, user.email)).status_code == 401
    async with api.sessionmaker() as session:
        keys = set(await session.scalars(select(LoginThrottle.key)))
    assert "email:stale" not in keys
    assert len(keys) == 3  # this attempt's (email, address), email and address


OWNER_ADDRESS = "198.51.100.30"


async def _sign_in_from(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    address: str,
    email: str,
    password: str = WRONG,
) -> httpx.Response:
    async with _client(settings, sessionmaker, address, per_ip=50) as client:
        return await _login(client, email, password)


async def _spray(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    email: str,
    counts: list[int],
    first: int = 100,
) -> list[int]:
    """Wrong guesses for ``email``, ``counts[n]`` of them from the n-th stranger's address."""
    statuses: list[int] = []
    for n, count in enumerate(counts):
        async with _client(settings, sessionmaker, f"203.0.113.{first + n}", per_ip=50) as c:
            statuses += await _guesses(c, email, count)
    return statuses


async def test_guesses_from_eleven_addresses_do_not_lock_the_owner_out(
    api: Api, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """As filed: 52 wrong guesses from 11 addresses passed the per-email bound (50), and the
    owner's right password was a 429 for 15 minutes wherever they signed in from."""
    user = await api.user("coach-besieged")
    signed_in = await _sign_in_from(settings, sessionmaker, OWNER_ADDRESS, user.email, PASSWORD)
    assert signed_in.status_code == 200
    statuses = await _spray(settings, sessionmaker, user.email, [5] * 10 + [2])
    assert statuses == [401] * 50 + [429] * 2  # the spread guessing is still capped

    again = await _sign_in_from(settings, sessionmaker, OWNER_ADDRESS, user.email, PASSWORD)
    assert again.status_code == 200, again.text
    # From an address the account never signed in from, even the right password waits.
    stranger = await _sign_in_from(settings, sessionmaker, "192.0.2.77", user.email, PASSWORD)
    _assert_throttled(stranger, settings)


async def test_the_owners_sign_in_does_not_renew_the_guessers_allowance(
    api: Api, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A success gives back its own attempt only: were the per-email count reset, each of the
    owner's sign-ins during an attack would buy the guessers another 50."""
    spread = settings.model_copy(update={"login_max_attempts_per_email": 4})
    user = await api.user("coach-renewed")
    assert (
        await _sign_in_from(spread, sessionmaker, OWNER_ADDRESS, user.email, PASSWORD)
    ).is_success
    assert await _spray(spread, sessionmaker, user.email, [2, 2, 1]) == [401] * 4 + [429]
    assert (
        await _sign_in_from(spread, sessionmaker, OWNER_ADDRESS, user.email, PASSWORD)
    ).is_success
    late = await _sign_in_from(spread, sessionmaker, "203.0.113.160", user.email)
    _assert_throttled(late, settings)


async def test_a_known_address_keeps_its_own_bound_past_the_per_email_one(
    api: Api, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Someone behind the owner's address (the club's Wi-Fi) guesses at the strict rate only."""
    spread = settings.model_copy(update={"login_max_attempts_per_email": 4})
    user = await api.user("coach-shared-wifi")
    assert (
        await _sign_in_from(spread, sessionmaker, OWNER_ADDRESS, user.email, PASSWORD)
    ).is_success
    assert await _spray(spread, sessionmaker, user.email, [2, 2, 1]) == [401] * 4 + [429]
    async with _client(spread, sessionmaker, OWNER_ADDRESS, per_ip=50) as shared:
        assert await _guesses(shared, user.email, 5) == [401] * 5
        _assert_throttled(await _login(shared, user.email, PASSWORD), settings)


async def test_an_address_unused_for_the_known_address_days_is_a_strangers_again(
    api: Api, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    spread = settings.model_copy(update={"login_max_attempts_per_email": 4})
    user = await api.user("coach-away")
    assert (
        await _sign_in_from(spread, sessionmaker, OWNER_ADDRESS, user.email, PASSWORD)
    ).is_success
    async with api.sessionmaker.begin() as session:
        await session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key.startswith("known:"))
            .values(window_start=utcnow() - timedelta(days=settings.login_known_address_days))
        )
    assert await _spray(spread, sessionmaker, user.email, [2, 2, 1]) == [401] * 4 + [429]
    back = await _sign_in_from(spread, sessionmaker, OWNER_ADDRESS, user.email, PASSWORD)
    _assert_throttled(back, settings)


async def test_concurrent_guesses_from_a_known_address_past_the_email_bound(
    committed_db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Two replicas, the per-email bound used up by strangers, many guesses at once from the
    owner's known address: the strict bound still lets only 5 of them be checked."""
    spread = settings.model_copy(update={"login_max_attempts_per_email": 2})
    async with committed_db.begin() as session:
        session.add(
            User(
                email="besieged@example.com",
                full_name="Besieged",
                password_hash=accounts.hash_password(PASSWORD),
            )
        )
    email = "besieged@example.com"
    right = await _sign_in_from(spread, committed_db, OWNER_ADDRESS, email, PASSWORD)
    assert right.status_code == 200
    assert await _spray(spread, committed_db, email, [1, 1, 1]) == [401, 401, 429]
    replicas = [_client(spread, committed_db, OWNER_ADDRESS, per_ip=50) for _ in range(2)]
    try:
        statuses = await asyncio.gather(*(_login(replicas[i % 2], email) for i in range(12)))
        codes = sorted(r.status_code for r in statuses)
        assert codes == [401] * 5 + [429] * 7, codes
    finally:
        for replica in replicas:
            await replica.aclose()
