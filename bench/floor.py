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

Each phase: 16 keep-alive clients (``bench.http_load``'s client), a fixed number of
requests, requests/s, p50 and the server's CPU time per request. It needs a PostgreSQL
server (``LOADLINE_BENCH_PG_URL``), and creates and drops its own (empty) database.
A table goes to stdout, everything to ``bench/results/floor.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from typing import Any

import asyncpg
import numpy as np
from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import text

from app.config import Settings
from app.db import Session
from app.deps import UserId
from app.main import create_app
from app.services import tokens
from bench.http_load import (
    DEFAULT_ADMIN_URL,
    HOST,
    RESULTS_DIR,
    Connection,
    Server,
    build_request,
    free_port,
    proc_cpu_seconds,
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
async def get_session(user_id: UserId, session: Session) -> dict[str, int]:
    return {"one": (await session.execute(_ONE)).scalar_one()}


@router.get("/session3")
async def get_session3(user_id: UserId, session: Session) -> dict[str, int]:
    total = 0
    for _ in range(3):
        total += (await session.execute(_ONE)).scalar_one()
    return {"three": total}


def build_app() -> FastAPI:
    """The real app plus the probe routes (after its own routers); ``uvicorn bench.floor:app``."""
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


def __getattr__(name: str) -> FastAPI:
    """``bench.floor:app`` for uvicorn, built on first access (as ``app.main:app``)."""
    if name == "app":
        application = build_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)


async def one_phase(port: int, pid: int, request: bytes, per_client: int) -> dict[str, Any]:
    connections = [Connection(HOST, port) for _ in range(CLIENTS)]
    latencies: list[float] = []

    async def loop(connection: Connection, count: int, record: bool) -> None:
        for _ in range(count):
            began = time.perf_counter()
            status, body = await connection.send(request)
            if status != 200:
                raise RuntimeError(f"{status}: {body[:200]!r}")
            if record:
                latencies.append(1000 * (time.perf_counter() - began))

    await asyncio.gather(*(loop(c, 20, False) for c in connections))
    cpu, began = proc_cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(loop(c, per_client, True) for c in connections))
    wall, cpu = time.perf_counter() - began, proc_cpu_seconds(pid) - cpu
    for connection in connections:
        await connection.close()
    count = len(latencies)
    return {
        "requests": count,
        "rps": round(count / wall, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "server_cpu_ms_per_request": round(1000 * cpu / count, 3),
        "server_cpu_share": round(cpu / wall, 3),
    }


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
    command = [sys.executable, "-m", "uvicorn", "bench.floor:app", "--host", HOST]
    command += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    server = Server(command, env, port)
    results: dict[str, Any] = {"clients": CLIENTS, "phases": {}}
    try:
        server.start()
        await server.wait_ready()
        token = tokens.encode_access_token(Settings(database_url=url, secret_key=secret), 1)
        for phase, path in PHASES.items():
            result = await one_phase(
                port, server.pid, build_request("GET", path, token), args.requests // CLIENTS
            )
            results["phases"][phase] = result
            log(
                f"{phase}: {result['rps']:.0f}/s, p50 {result['p50_ms']:.1f} ms, server CPU "
                f"{result['server_cpu_ms_per_request']:.2f} ms/request "
                f"({100 * result['server_cpu_share']:.0f} % of a core)"
            )
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
    results["git"] = subprocess.run(
        ["git", "describe", "--always", "--dirty"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
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
