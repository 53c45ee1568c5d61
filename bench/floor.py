"""The stack's floor on this machine: ``python -m bench.floor`` (part of ``make bench``).

How many requests per second can one API process of this stack (uvicorn with uvloop and
httptools, FastAPI, our middlewares, asyncpg, SQLAlchemy's AsyncSession) answer at most,
before any of Loadline's own work? The issue's HTTP targets (sRPE writes 800/s, ``acwr``
reads 1,500/s, roster 800/s, one process, 2 cores) are read against these figures.

The server is the real app (``create_app()``) with a few probe routes added after its own
routers, so FastAPI matches them as late as the real ``acwr`` and roster routes:

* ``healthz``: the real ``GET /healthz`` (first router; no authentication, no database);
* ``plain``: ``GET /bench/floor/plain``, a constant answer, matched after every router;
* ``token``: as ``plain``, with the bearer token checked (the ``UserId`` dependency);
* ``asyncpg``: ``SELECT 1`` on a raw asyncpg pool (no SQLAlchemy, no transaction);
* ``session``: the token, and ``SELECT 1`` through the request's SQLAlchemy session, as
  every Loadline route reads (``BEGIN``, the statement, ``COMMIT``);
* ``session3``: as ``session`` with three statements (the ``acwr`` route runs two, the
  roster three, the sRPE write seven).

Each phase is ``bench.http_load``'s phase: 16 keep-alive clients, a fixed number of
requests after a warm-up, requests/s, p50 and the server's CPU time per request; any
error stops the run. It needs a PostgreSQL
server (``LOADLINE_BENCH_PG_URL``), and creates and drops its own (empty) database.
A table goes to stdout, everything to ``bench/results/floor.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import text

from app.config import Settings
from app.db import Db
from app.deps import UserId
from app.main import create_app
from app.services.accounts import tokens
from bench.http_load import (
    DEFAULT_ADMIN_URL,
    HOST,
    RESULTS_DIR,
    Server,
    build_request,
    free_port,
    git_describe,
    run_phase,
)
from bench.seed import create_database, drop_database, log

RESULTS = RESULTS_DIR / "floor.json"
PHASES = {
    "healthz": "/healthz",
    "plain": "/bench/floor/plain",
    "token": "/bench/floor/token",
    "asyncpg": "/bench/floor/asyncpg",
    "session": "/bench/floor/session",
    "session3": "/bench/floor/session3",
}
CLIENTS = 16
WARMUP = 20  # requests per client before each probe is timed

router = APIRouter(prefix="/bench/floor")
_ONE = text("SELECT 1")


@router.get("/plain")
async def get_plain() -> dict[str, int]:
    return {"ok": 1}


@router.get("/token")
async def get_token(user_id: UserId) -> dict[str, int]:
    return {"user": user_id}


@router.get("/asyncpg")
async def get_asyncpg(request: Request) -> dict[str, int]:
    pool: asyncpg.Pool = await request.app.state.floor_pool()
    async with pool.acquire() as connection:
        value: int = await connection.fetchval("SELECT 1")
    return {"one": value}


@router.get("/session")
async def get_session(user_id: UserId, db: Db) -> dict[str, int]:
    return {"one": (await db.execute(_ONE)).scalar_one()}


@router.get("/session3")
async def get_session3(user_id: UserId, db: Db) -> dict[str, int]:
    total = 0
    for _ in range(3):
        total += (await db.execute(_ONE)).scalar_one()
    return {"three": total}


def build_app() -> FastAPI:
    """The real app plus the probe routes (after its own routers), for
    ``uvicorn --factory bench.floor:build_app``."""
    application = create_app()
    application.include_router(router)
    lock = asyncio.Lock()
    pools: list[asyncpg.Pool] = []
    dsn = os.environ["LOADLINE_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")

    async def floor_pool() -> asyncpg.Pool:
        async with lock:
            if not pools:
                pools.append(await asyncpg.create_pool(dsn, min_size=CLIENTS, max_size=CLIENTS))
        return pools[0]

    application.state.floor_pool = floor_pool
    return application


async def run(args: argparse.Namespace) -> dict[str, Any]:
    name, url = await create_database(args.admin_url)
    secret = secrets.token_urlsafe(32)
    port = free_port()
    env = os.environ | {
        "LOADLINE_DATABASE_URL": url,
        "LOADLINE_SECRET_KEY": secret,
        "LOADLINE_SCHEDULER": "off",
        "LOADLINE_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "bench.floor:build_app",
        "--host",
        HOST,
    ]
    command += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    server = Server(command, env, port)
    results: dict[str, Any] = {"clients": CLIENTS, "phases": {}}
    try:
        server.start()
        await server.wait_ready()
        token = tokens.encode_access_token(Settings(database_url=url, secret_key=secret), 1)
        per_client = args.requests // CLIENTS
        for phase, path in PHASES.items():
            request = build_request("GET", path, token)
            requests = [[request] * (WARMUP + per_client) for _ in range(CLIENTS)]
            result = await run_phase(phase, server, requests, WARMUP, profile=False)
            if result["errors"] or result["warmup_errors"]:
                raise RuntimeError(
                    f"{phase}: {result['first_errors'] or result['warmup_first_errors']}"
                )
            results["phases"][phase] = result
    finally:
        server.stop()
        await drop_database(args.admin_url, name)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests per phase")
    parser.add_argument(
        "--admin-url", default=os.environ.get("LOADLINE_BENCH_PG_URL", DEFAULT_ADMIN_URL)
    )
    args = parser.parse_args()
    results = asyncio.run(run(args))
    results["git"] = git_describe()
    results["loadavg"] = os.getloadavg()
    print(f"{'phase':<10}{'req/s':>8}{'p50 ms':>9}{'srv ms/req':>12}{'/s per core':>13}")
    for phase, r in results["phases"].items():
        per_core = 1000 / r["server_cpu_ms_per_request"]
        print(
            f"{phase:<10}{r['rps']:>8.0f}{r['p50_ms']:>9.1f}"
            f"{r['server_cpu_ms_per_request']:>12.2f}{per_core:>13.0f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    log(f"results written to {RESULTS}")


if __name__ == "__main__":
    main()
