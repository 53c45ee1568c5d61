"""Health, readiness, the OpenAPI document and the per-request log line."""

import json
import logging
import re

import httpx
import pytest

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.main import create_app
from tests.fixtures.actors import Squad


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})


async def test_readyz_is_503_when_the_database_is_gone(settings: Settings) -> None:
    engine = create_engine("sqlite+aiosqlite:////nonexistent-dir/loadline.db")
    app = create_app(settings, create_sessionmaker(engine))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/readyz")
    await engine.dispose()
    assert response.status_code == 503


async def test_openapi_operation_ids_are_clean_and_unique(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", op_id) for op_id in ids), ids
    assert all(op.get("tags") for op in operations)
    assert {"get_health", "create_session", "upsert_srpe", "upsert_wellness"} <= set(ids)
    post = schema["paths"]["/performance/wellness"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in post["parameters"]]


async def test_each_operation_has_its_own_readable_summary(client: httpx.AsyncClient) -> None:
    """Generated clients and the docs page title operations by their summary."""
    schema = (await client.get("/openapi.json")).json()
    summaries = {
        op["operationId"]: op["summary"]
        for path in schema["paths"].values()
        for op in path.values()
    }
    assert len(set(summaries.values())) == len(summaries)
    assert summaries["upsert_srpe"] == "Upsert sRPE"
    assert summaries["get_acwr"] == "Get ACWR"
    assert summaries["create_session"] == "Create session"


async def test_one_json_log_line_per_request(
    client: httpx.AsyncClient, squad: Squad, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="loadline.access")
    caplog.clear()
    response = await client.get(
        f"/teams/{squad.team['id']}", headers=squad.coach.headers | {"X-Request-ID": "req-42"}
    )
    assert response.headers["x-request-id"] == "req-42"
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "loadline.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line["route"] == "/teams/{team_id}"
    assert (line["method"], line["status"], line["request_id"]) == ("GET", 200, "req-42")
    assert "Bearer" not in caplog.text
    assert squad.coach.headers["Authorization"].split()[1] not in caplog.text


async def test_every_json_answer_of_every_operation_is_typed(client: httpx.AsyncClient) -> None:
    """Generated clients decode what the schema says: an answer documented as
    ``application/json`` with an empty schema (``/readyz`` had one) reaches them untyped."""
    schema = (await client.get("/openapi.json")).json()
    untyped = [
        f"{method.upper()} {path} {status}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        for media, content in response.get("content", {}).items()
        if media.endswith("json") and not content.get("schema")
    ]
    assert untyped == []
    ready = schema["paths"]["/readyz"]["get"]["responses"]
    assert ready["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Readiness"
    }
    assert "application/problem+json" in ready["503"]["content"]
