"""Per-request work the service does not need to do (docs/PERFORMANCE.md, HTTP load)."""

import gc
import inspect
import logging
from collections.abc import Callable
from typing import Any

import fastapi.dependencies.utils
import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.errors import Unauthorized
from app.main import create_app
from app.middleware import logging as access_log
from app.services.accounts import tokens
from tests.fixtures.actors import Squad


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every route, also inside included routers (which recent FastAPI keeps nested)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (included := getattr(route, "original_router", None)) is not None:
            found.extend(_api_routes(included.routes))
    return found


def _calls(dependant: Dependant) -> list[Callable[..., Any]]:
    found: list[Callable[..., Any]] = []
    for sub in dependant.dependencies:
        if sub.call is not None:
            found.append(sub.call)
        found.extend(_calls(sub))
    return found


def _is_async(call: Callable[..., Any]) -> bool:
    target = call if inspect.isroutine(call) else type(call).__call__
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def test_every_dependency_is_async(settings: Settings) -> None:
    """FastAPI runs a plain ``def`` dependency in its thread pool: a thread hop per request."""
    routes = _api_routes(create_app(settings).routes)
    assert len(routes) > 20  # the walk did reach the included routers
    sync = {
        f"{call.__module__}.{getattr(call, '__qualname__', type(call).__name__)}"
        for route in routes
        for call in _calls(route.dependant)
        if not _is_async(call)
    }
    assert not sync


async def test_authenticated_requests_take_no_thread_hop(
    client: httpx.AsyncClient, squad: Squad, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[str] = []
    real = run_in_threadpool  # what fastapi.dependencies.utils imports under that name

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__qualname__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", counted)
    member_id = squad.player_membership["id"]
    for path, params in (
        ("/auth/me", {}),
        (f"/teams/{squad.team['id']}", {}),
        (f"/performance/members/{member_id}/acwr", {}),
        ("/integrations/whoop/authorize", {"membership_id": member_id}),  # the vendors
    ):
        response = await client.get(path, params=params, headers=squad.player.headers)
        assert response.status_code < 500, response.text
    assert hops == []


async def test_a_post_without_idempotency_key_decodes_the_token_once(
    client: httpx.AsyncClient, squad: Squad, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    real = tokens.decode_access_token

    def counted(settings: Settings, token: str) -> int:
        decoded.append(token)
        return real(settings, token)

    monkeypatch.setattr(tokens, "decode_access_token", counted)
    body = {"name": "Second XV", "timezone": "UTC"}
    response = await client.post("/teams", json=body, headers=squad.coach.headers)
    assert response.status_code == 201
    assert len(decoded) == 1  # the route's own dependency, not the idempotency middleware

    decoded.clear()
    keyed = squad.coach.headers | {"Idempotency-Key": "k-1"}
    first = await client.post("/teams", json=body, headers=keyed)
    again = await client.post("/teams", json=body, headers=keyed)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    # The middleware needs the user for a key (twice), the first run's route once, and the
    # replay's dry run once: a repeat is authorised again under today's rules (issue 10).
    assert len(decoded) == 4


def test_the_token_key_is_built_once_per_secret(settings: Settings) -> None:
    assert tokens._jwt_key(settings) is tokens._jwt_key(settings.model_copy())
    other = settings.model_copy(update={"secret_key": "another-secret-key-long-enough-too"})
    assert tokens._jwt_key(other) is not tokens._jwt_key(settings)
    with pytest.raises(Unauthorized):
        tokens.decode_access_token(other, tokens.encode_access_token(settings, 7))
    assert tokens.decode_access_token(other, tokens.encode_access_token(other, 7)) == 7


async def test_no_log_line_is_built_while_access_logging_is_off(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    real = access_log._line

    def counted(*args: Any) -> str:
        line = real(*args)
        built.append(line)
        return line

    monkeypatch.setattr(access_log, "_line", counted)
    caplog.set_level(logging.WARNING, logger="loadline.access")
    assert (await client.get("/healthz")).status_code == 200
    assert built == []
    caplog.set_level(logging.INFO, logger="loadline.access")
    response = await client.get("/healthz")
    assert len(built) == 1
    assert response.headers["x-request-id"] in built[0]


async def test_startup_freezes_its_objects_out_of_the_collector(
    settings: Settings, database_url: str
) -> None:
    """Full collections then skip the ~10^5 objects of startup (one took ~100 ms)."""
    gc.unfreeze()
    app = create_app(settings.model_copy(update={"database_url": database_url}))
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
