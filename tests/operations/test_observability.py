"""The request log line and the Prometheus metrics: bounded, and never a secret."""

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from app.models import InboxStatus, WebhookEvent
from app.models.base import utcnow
from app.scheduler import Scheduler
from app.services.platform import metrics
from tests.fixtures.actors import PASSWORD, Api, Squad

TEST_CLIENT_LOGGERS = ("httpx", "httpcore")  # the test's own client logs its URLs


@pytest.fixture
def service_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record the service writes at INFO and above (the production level)."""
    caplog.set_level(logging.INFO)
    caplog.clear()
    yield caplog


def _service_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        record.getMessage() + (caplog.text if record.exc_info else "")
        for record in caplog.records
        if not record.name.startswith(TEST_CLIENT_LOGGERS)
    )


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "loadline.access"
    ]


async def test_the_calendar_token_never_reaches_the_log(
    client: httpx.AsyncClient, squad: Squad, service_log: pytest.LogCaptureFixture
) -> None:
    issued = await client.post(
        f"/teams/{squad.team['id']}/calendar-token", headers=squad.coach.headers
    )
    token = issued.json()["token"]
    service_log.clear()
    for secret in (token, "wrong-calendar-token-0123456789"):
        await client.get(f"/teams/{squad.team['id']}/calendar.ics", params={"token": secret})
    lines = _request_lines(service_log)
    assert [(line["route"], line["status"]) for line in lines] == [
        ("/teams/{team_id}/calendar.ics", 200),
        ("/teams/{team_id}/calendar.ics", 404),
    ]
    text = _service_text(service_log)
    assert token not in text
    assert "wrong-calendar-token" not in text
    assert "token=" not in text
    assert "?" not in "".join(line["route"] for line in lines)


async def test_an_unknown_path_is_logged_without_its_path_or_query(
    client: httpx.AsyncClient, service_log: pytest.LogCaptureFixture
) -> None:
    response = await client.get(
        "/teams/7/calendar.ics/leaked-path-secret", params={"token": "leaked-query-secret"}
    )
    assert response.status_code == 404
    [line] = _request_lines(service_log)
    assert (line["route"], line["status"], line["method"]) == ("<unmatched>", 404, "GET")
    text = _service_text(service_log)
    assert "leaked-path-secret" not in text
    assert "leaked-query-secret" not in text


async def test_bodies_and_credentials_never_reach_the_log(
    client: httpx.AsyncClient, api: Api, squad: Squad, service_log: pytest.LogCaptureFixture
) -> None:
    user = await api.user("logger")
    signed_in = await client.post(
        "/auth/token", data={"username": user.email, "password": PASSWORD}
    )
    wrong = await client.post(
        "/auth/token", data={"username": user.email, "password": "body-secret-password"}
    )
    refresh = signed_in.json()["refresh_token"]
    await client.post("/auth/refresh", json={"refresh_token": refresh})
    await client.get("/auth/me", headers=squad.coach.headers)
    assert (signed_in.status_code, wrong.status_code) == (200, 401)
    text = _service_text(service_log)
    for secret in (
        PASSWORD,
        "body-secret-password",
        refresh,
        signed_in.json()["access_token"],
        squad.coach.headers["Authorization"].split()[1],
        user.email,
    ):
        assert secret not in text
    assert [line["route"] for line in _request_lines(service_log)] == [
        "/auth/token",
        "/auth/token",
        "/auth/refresh",
        "/auth/me",
    ]


async def test_the_request_id_is_passed_through_or_made(
    client: httpx.AsyncClient, service_log: pytest.LogCaptureFixture
) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "trace-abc-1"})
    made = await client.get("/healthz")
    assert given.headers["x-request-id"] == "trace-abc-1"
    assert len(made.headers["x-request-id"]) == 32
    ids = [line["request_id"] for line in _request_lines(service_log)]
    assert ids == ["trace-abc-1", made.headers["x-request-id"]]
    assert all(line["duration_ms"] >= 0 for line in _request_lines(service_log))


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _scrape(client: httpx.AsyncClient, **headers: str) -> dict[Any, float]:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return _samples(response.text)


def _requests(route: str, status: str, method: str = "GET") -> tuple[str, frozenset[Any]]:
    labels = {"method": method, "route": route, "status": status}
    return ("loadline_http_requests_total", frozenset(labels.items()))


async def test_requests_are_counted_by_route_template_and_status_class(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    team_route = _requests("/teams/{team_id}", "2xx")
    unmatched = _requests("<unmatched>", "4xx")
    before = await _scrape(client)
    await client.get(f"/teams/{squad.team['id']}", headers=squad.coach.headers)
    await client.get("/no/such/route/9876")
    await client.request("BREW", "/healthz")
    after = await _scrape(client)
    assert after[team_route] - before.get(team_route, 0) == 1
    assert after[unmatched] - before.get(unmatched, 0) == 1
    assert any(dict(labels).get("method") == "OTHER" for _, labels in after)
    labels = {value for _, label_set in after for _, value in label_set}
    assert not [value for value in labels if re.search(r"/\d", value)]  # no raw path
    histogram = (
        "loadline_http_request_duration_seconds_count",
        frozenset({"method": "GET", "route": "/teams/{team_id}", "status": "2xx"}.items()),
    )
    assert after[histogram] >= 1


async def test_the_inbox_depth_is_read_at_scrape_time(client: httpx.AsyncClient, api: Api) -> None:
    async with api.sessionmaker.begin() as session:
        for i, status in enumerate([InboxStatus.PENDING] * 2 + [InboxStatus.FAILED]):
            session.add(
                WebhookEvent(
                    provider="whoop",
                    event_key=f"metrics-{i}",
                    body=b"{}",
                    status=status,
                    received_at=utcnow() - timedelta(minutes=10),
                )
            )
    samples = await _scrape(client)
    events = "loadline_webhook_inbox_events"
    assert samples[(events, frozenset({("status", "pending")}))] == 2
    assert samples[(events, frozenset({("status", "failed")}))] == 1
    lag = samples[("loadline_webhook_inbox_oldest_pending_seconds", frozenset())]
    assert 600 <= lag < 700


async def test_job_runs_and_failures_are_counted_by_job(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Through APScheduler's own events; a team's job counts under its kind."""

    def count(name: str) -> float:
        value = REGISTRY.get_sample_value(f"loadline_job_{name}_total", {"job": "acwr.advance"})
        return value or 0.0

    before = {name: count(name) for name in ("runs", "failures")}
    jobs = Scheduler(engine, sessionmaker, None)  # type: ignore[arg-type]
    done = asyncio.Event()

    async def fine() -> None:
        done.set()

    async def broken() -> None:
        raise RuntimeError("job broke")

    metrics.watch_jobs(jobs.scheduler)
    jobs.scheduler.start()
    try:
        for team_id, job in ((1, fine), (2, broken)):
            jobs.scheduler.add_job(
                jobs._locked(f"acwr.advance.{team_id}", job), id=f"acwr.advance.{team_id}"
            )
        for _ in range(100):
            if count("runs") - before["runs"] >= 2:
                break
            await asyncio.sleep(0.02)
    finally:
        jobs.scheduler.shutdown(wait=False)
    assert done.is_set()
    assert count("runs") - before["runs"] == 2
    assert count("failures") - before["failures"] == 1


async def test_metrics_need_the_token_when_one_is_set(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    app = create_app(settings.model_copy(update={"metrics_token": "scrape-me-0123"}), sessionmaker)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["content-type"].startswith("application/problem+json")
        await _scrape(client, Authorization="Bearer scrape-me-0123")


async def test_metrics_are_open_without_a_token(client: httpx.AsyncClient) -> None:
    await _scrape(client)


async def test_metrics_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/metrics"]["get"]
    assert operation["operationId"] == "get_metrics"
    assert operation["tags"] == ["operations"]
    [content_type] = operation["responses"]["200"]["content"]
    assert content_type.startswith("text/plain")
    assert "401" in operation["responses"]
    assert "LOADLINE_METRICS_TOKEN" in operation["description"]
