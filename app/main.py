"""Builds the application: routers, error rendering, middleware and the lifespan."""

import gc
import logging
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.config import Settings, get_settings
from app.db import create_engine, create_probe_engine, create_sessionmaker
from app.errors import ACCESS_REFUSED, DomainError
from app.middleware.body_limit import BodyLimitMiddleware
from app.middleware.idempotency import IdempotencyMiddleware
from app.middleware.logging import RequestLogMiddleware
from app.routers import (
    admin,
    alerts,
    audit,
    auth,
    calendar,
    devices,
    gps,
    health,
    health_problems,
    health_report,
    hrv,
    loads,
    members,
    metrics,
    ostrc,
    outbound,
    privacy,
    reports,
    roster,
    sessions,
    srpe,
    teams,
    webhooks,
    wellness,
)
from app.scheduler import Scheduler
from app.schemas.base import ERROR_DESCRIPTIONS, Problem
from app.services.integrations.context import VendorContext, new_http_client
from app.services.platform.readiness import ReadinessProbe

PROBLEM = "application/problem+json"
logger = logging.getLogger("loadline")


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    if exc.refuses_access:
        request.scope[ACCESS_REFUSED] = True
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    retry_after = getattr(exc, "retry_after", None)  # a 429 says how long to wait
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return problem(exc.status, exc.title, exc.detail, exc.errors(), headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    """422 naming each field; a body that is not JSON at all is a 400."""
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(err.get("type") == "json_invalid" for err in raw):
        return problem(400, "Malformed body", "The request body is not valid JSON")
    errors = [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")}
        for err in raw
    ]
    fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors)
    return problem(422, "Validation error", f"Invalid input: {fields}", errors)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {
        400: "Bad request",
        401: "Unauthorized",
        404: "Not found",
        405: "Method not allowed",
        413: "Content too large",
    }
    return problem(
        exc.status_code,
        titles.get(exc.status_code, "Error"),
        str(exc.detail),
        headers=getattr(exc, "headers", None),
    )


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    """A constraint the services did not foresee: the data is unchanged, so a 409, not a 500."""
    logger.warning("integrity error: %s", type(exc).__name__)
    return problem(409, "Conflict", "The change conflicts with data already stored")


RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock timeout
# The server ended the connection: shut down or restarted (57P01-57P03), or a backend
# terminated by an administrator or a failover; class 08 is "connection exception".
CONNECTION_SQLSTATES = {"57P01", "57P02", "57P03"}


def _connection_lost(exc: DBAPIError) -> bool:
    code = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
    return bool(
        exc.connection_invalidated
        or code in CONNECTION_SQLSTATES
        or code.startswith("08")
        or "unable to open database file" in str(exc.orig)  # SQLite's file is out of reach
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A transaction the database chose to abort (deadlock, serialisation, a locked SQLite
    file) left nothing changed: tell the client to retry instead of calling it a 500. So
    does a connection the database dropped mid-request: SQLAlchemy then invalidates the
    pool's older connections, and the next request connects afresh (no restart needed)."""
    assert isinstance(exc, DBAPIError)
    if _connection_lost(exc):
        return _database_gone(type(exc.orig or exc).__name__)
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in RETRYABLE_SQLSTATES or "database is locked" in str(exc.orig):
        logger.warning('{"event": "transaction_retry", "sqlstate": "%s"}', code)
        return _retry_later("A concurrent change got in the way; retry the request", 1)
    return await _unexpected_error(request, exc)


async def _connection_error(request: Request, exc: Exception) -> JSONResponse:
    """No connection to be had: the server refused, reset or did not answer it, or its
    name does not resolve (an ``OSError``, ``TimeoutError`` included, raised inside the
    database driver or SQLAlchemy's pool), or every pooled connection stayed busy (the
    pool's timeout). Any other ``OSError`` is a bug of ours, a 500."""
    if isinstance(exc, PoolTimeout) or _raised_by_database(exc):
        return _database_gone(type(exc).__name__)
    return await _unexpected_error(request, exc)


DATABASE_MODULES = ("sqlalchemy.", "asyncpg.", "aiosqlite.")


def _raised_by_database(exc: BaseException) -> bool:
    """Did ``exc`` come from connecting or talking to the database (a frame of the driver
    or of SQLAlchemy on its way)?"""
    frames = traceback.walk_tb(exc.__traceback__)
    return any(
        str(frame.f_globals.get("__name__", "")).startswith(DATABASE_MODULES) for frame, _ in frames
    )


def _database_gone(error: str) -> JSONResponse:
    logger.warning('{"event": "database_unavailable", "error": "%s"}', error)
    return _retry_later("The database is out of reach; nothing was changed, retry shortly", 5)


def _retry_later(detail: str, seconds: int) -> JSONResponse:
    """503 with ``Retry-After``: nothing was changed, and the same request may come again."""
    return problem(503, "Service unavailable", detail, headers={"Retry-After": str(seconds)})


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return problem(500, "Internal server error", "Something went wrong on our side")


REF = "#/components/schemas/{model}"


def _problem_content(operation: dict[str, Any]) -> None:
    """Every error answer is a Problem, sent as application/problem+json; every operation
    can answer 422 (FastAPI's own validation-error shape is never sent), and every one that
    takes a body can answer 400 (a body that cannot be parsed at all)."""
    responses = operation.setdefault("responses", {})
    responses.setdefault("422", {"description": ERROR_DESCRIPTIONS[422]})
    if "requestBody" in operation:
        responses.setdefault("400", {"description": ERROR_DESCRIPTIONS[400]})
        responses.setdefault("413", {"description": ERROR_DESCRIPTIONS[413]})  # body limit
    for status, response in responses.items():
        if status[0] in "45":
            response["content"] = {PROBLEM: {"schema": {"$ref": REF.format(model="Problem")}}}


ACRONYMS = {
    "srpe": "sRPE",
    "acwr": "ACWR",
    "hrv": "HRV",
    "gps": "GPS",
    "csv": "CSV",
    "pdf": "PDF",
    "oura": "Oura",
}


def _summary(operation_id: str) -> str:
    """``upsert_srpe`` -> "Upsert sRPE": the title a generated client's docstring and the
    docs page show (FastAPI would title every handler by its function name, "Create")."""
    words = [ACRONYMS.get(word, word) for word in operation_id.split("_")]
    return " ".join([words[0].capitalize(), *words[1:]])


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The schema, with the ``Idempotency-Key`` header documented on every POST."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    header = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Repeat a POST safely: the same user and key within 24 hours get the "
        "first answer; the same key with another body is a 422. A repeat is authorised again "
        "under today's rules: a caller who may no longer do it gets today's answer (e.g. 403 "
        "or 404), never the stored one. The routes that authenticate by their body "
        "(/auth/register, /auth/token, /auth/refresh, /auth/password-reset) are never "
        "replayed.",
        "schema": {"type": "string", "maxLength": 255},
    }
    for path in schema["paths"].values():
        if "post" in path:
            path["post"].setdefault("parameters", []).append(header)
        for operation in path.values():
            _problem_content(operation)
            operation["summary"] = _summary(operation["operationId"])
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    components.update(Problem.model_json_schema(ref_template=REF)["$defs"])
    components["Problem"] = Problem.model_json_schema(ref_template=REF) | {}
    components["Problem"].pop("$defs", None)
    app.openapi_schema = schema
    return schema


def create_app(
    settings: Settings | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    vendor_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The app. Tests pass their own ``sessionmaker`` (bound to a test transaction) and a
    ``vendor_transport`` that stands in for the vendors' APIs."""
    settings = settings or get_settings()
    if settings.secret_key == Settings.model_fields["secret_key"].default:
        logger.warning('{"event": "insecure_secret_key", "detail": "set LOADLINE_SECRET_KEY"}')

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if sessionmaker is not None:
            yield
            return
        engine = create_engine(settings.database_url, echo=settings.sql_echo)
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.readiness = ReadinessProbe(create_probe_engine(settings.database_url))
        jobs = (
            Scheduler(engine, app.state.sessionmaker, app.state.vendors)
            if settings.scheduler == "on"
            else None
        )
        if jobs is not None:
            jobs.start()
        # Startup's garbage freed, its long-lived rest frozen: full collections (~100 ms) skip it.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if jobs is not None:
                await jobs.stop(settings.shutdown_grace_seconds)
            await app.state.vendors.http.aclose()
            await app.state.readiness.close()
            await engine.dispose()

    app = FastAPI(
        title="Loadline",
        version="0.1.0",
        description="Athlete monitoring for team sports: wellness, session-RPE, daily loads "
        "and the EWMA acute:chronic workload ratio. Errors are RFC 9457 problem+json.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.vendors = VendorContext(settings, new_http_client(vendor_transport))
    if sessionmaker is not None:
        app.state.sessionmaker = sessionmaker
        app.state.readiness = ReadinessProbe(sessionmaker=sessionmaker)
    for router in (
        health.router,
        auth.router,
        teams.router,
        members.router,
        sessions.router,
        srpe.router,
        wellness.router,
        loads.router,
        hrv.router,
        health_problems.router,
        ostrc.router,
        health_report.router,
        devices.router,
        webhooks.router,
        gps.router,
        roster.router,
        alerts.router,
        calendar.router,
        outbound.router,
        reports.router,
        privacy.router,
        admin.router,
        audit.router,
        metrics.router,
    ):
        app.include_router(router)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(OSError, _connection_error)  # refused, unreachable, timed out
    app.add_exception_handler(PoolTimeout, _connection_error)
    app.add_exception_handler(Exception, _unexpected_error)
    # The last added runs first: logging (every request, answered anywhere), the body
    # limit (before anything reads a body), CORS, then idempotency.
    app.add_middleware(IdempotencyMiddleware)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Idempotent-Replayed", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLogMiddleware)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def __getattr__(name: str) -> FastAPI:
    """``app.main:app`` for uvicorn, built on first access so importing this module is cheap."""
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
