"""Request bodies are capped (LOADLINE_MAX_BODY_BYTES), declared or streamed: 413 problem+json."""

from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import Settings
from app.middleware.body_limit import LARGER_BODIES
from tests.fixtures.actors import Squad

LIMIT = 2048


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_body_bytes": LIMIT})


async def _chunks(total: int, size: int = 512) -> AsyncIterator[bytes]:
    """A body sent chunked, without Content-Length: JSON that grows to ``total`` bytes."""
    yield b'{"email": "a@example.com", "password": "long-enough", "full_name": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


def _assert_413(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert (problem["status"], problem["title"]) == (413, "Content too large")
    assert str(LIMIT) in problem["detail"]


async def test_a_declared_length_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    body = {"email": "a@example.com", "password": "long-enough", "full_name": "x" * LIMIT}
    _assert_413(await client.post("/auth/register", json=body))


async def test_a_chunked_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register",
        content=_chunks(LIMIT * 4),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    _assert_413(response)


async def test_a_chunked_body_read_by_the_idempotency_middleware_is_413(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    """That middleware reads the body before any exception handler could answer."""
    response = await client.post(
        "/teams",
        content=_chunks(LIMIT * 4),
        headers=squad.coach.headers
        | {"Content-Type": "application/json", "Idempotency-Key": "big-1"},
    )
    _assert_413(response)


async def test_a_chunked_body_within_the_limit_goes_through(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register",
        content=_chunks(256, size=128),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422  # reached validation: the name is over 200 chars


async def test_the_gps_import_takes_more_than_the_general_limit(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    rows = "".join(f"nobody-{i},2026-11-01,400\n" for i in range(400))
    csv = ("athlete_ref,date,player_load\n" + rows).encode()
    assert len(csv) > LIMIT
    url = f"/teams/{squad.team['id']}/external-load/import"
    ok = await client.post(url, files={"file": ("gps.csv", csv)}, headers=squad.coach.headers)
    assert ok.status_code == 200, ok.text

    [(_, import_limit)] = LARGER_BODIES
    huge = b"x" * (import_limit + 1)
    too_big = await client.post(url, files={"file": ("gps.csv", huge)}, headers=squad.coach.headers)
    assert too_big.status_code == 413


async def test_the_413_is_documented_on_operations_with_a_body(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    answer = paths["/auth/register"]["post"]["responses"]["413"]
    assert "application/problem+json" in answer["content"]
