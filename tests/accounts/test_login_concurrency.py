"""Argon2 runs off the event loop, one at a time, against a dummy hash made in advance."""

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from sqlalchemy import select, update

from app.models import User
from app.services.accounts import service as accounts
from tests.fixtures.actors import PASSWORD


class _Watched:
    """The real hasher, noting when a verify starts and ends (``time.perf_counter``)."""

    def __init__(self, real: PasswordHasher) -> None:
        self.real = real
        self.loop = asyncio.get_running_loop()
        self.started = asyncio.Event()
        self.span: list[float] = []

    def verify(self, stored: str, password: str) -> bool:
        self.span.append(time.perf_counter())
        self.loop.call_soon_threadsafe(self.started.set)
        try:
            return self.real.verify(stored, password)
        finally:
            self.span.append(time.perf_counter())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_the_dummy_hash_is_a_real_hash_with_the_hashers_parameters() -> None:
    """Else a login for an unknown email would be quicker (or slower) than a real one."""
    assert not accounts._hasher.check_needs_rehash(accounts._DUMMY_HASH)
    with pytest.raises(VerifyMismatchError):
        accounts._hasher.verify(accounts._DUMMY_HASH, "any password")


async def test_health_answers_while_a_login_is_being_verified(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched = _Watched(accounts._hasher)
    monkeypatch.setattr(accounts, "_hasher", watched)
    login = asyncio.create_task(
        client.post("/auth/token", data={"username": "nobody@example.com", "password": "guess"})
    )
    async with asyncio.timeout(30):
        await watched.started.wait()
    health = await client.get("/healthz")
    answered = time.perf_counter()
    assert (await login).status_code == 401
    assert health.status_code == 200
    verify_started, verify_ended = watched.span
    # Relative to the verify measured in this very run, so a slow machine only widens it.
    assert answered < verify_ended, (
        f"/healthz answered {answered - verify_ended:.3f} s after a "
        f"{verify_ended - verify_started:.3f} s verify ended: it waited for it"
    )


async def test_one_hash_runs_at_a_time() -> None:
    """Each takes 64 MiB: a burst of logins must not take that many times over."""
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def argon2(password: str) -> str:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        try:
            time.sleep(0.05)  # a second, if let in, would be counted meanwhile
        finally:
            with lock:
                in_flight -= 1
        return password

    done = await asyncio.gather(*(accounts._off_loop(argon2, str(n)) for n in range(4)))
    assert done == ["0", "1", "2", "3"]
    assert most == 1


async def test_a_flood_of_hashing_is_refused_with_503_not_queued(
    client: httpx.AsyncClient,
) -> None:
    """Registrations hash even when they end in 409: past a short queue, sign-ins and
    registrations get a 503 with Retry-After instead of waiting behind them all."""
    release = threading.Event()

    def stuck(_: str) -> str:
        release.wait(30)
        return "done"

    held = [
        asyncio.create_task(accounts._off_loop(stuck, str(n)))
        for n in range(1 + accounts.MAX_WAITING_HASHES)
    ]
    try:
        for _ in range(100):  # until one runs and the others queue
            if accounts._ARGON2_SLOTS.statistics().tasks_waiting >= accounts.MAX_WAITING_HASHES:
                break
            await asyncio.sleep(0.01)
        refused = await client.post(
            "/auth/register",
            json={"email": "flood@example.com", "password": "long enough", "full_name": "F"},
        )
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"].startswith("application/problem+json")
    finally:
        release.set()
        assert await asyncio.gather(*held) == ["done"] * len(held)
    accepted = await client.post(
        "/auth/register",
        json={"email": "flood@example.com", "password": "long enough", "full_name": "F"},
    )
    assert accepted.status_code == 201


async def test_a_hash_with_older_parameters_is_replaced_at_sign_in(
    client: httpx.AsyncClient, api: Any
) -> None:
    user = await api.user("old-hash")
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with api.sessionmaker.begin() as session:
        await session.execute(update(User).where(User.id == user.id).values(password_hash=weak))
    signed_in = await client.post(
        "/auth/token", data={"username": user.email, "password": PASSWORD}
    )
    assert signed_in.status_code == 200
    async with api.sessionmaker() as session:
        stored = await session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored is not None and stored != weak
    assert not accounts._hasher.check_needs_rehash(stored)
    assert accounts._hasher.verify(stored, PASSWORD)
