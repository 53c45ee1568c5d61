"""Audit log cost on PostgreSQL: ``python -m bench.audit_bench``.

The world of :mod:`bench.coach_bench` (two teams of 40 players with a year of data, the
first with a year of health problems and a season of OSTRC answers), plus an audit log of
``--entries`` entries already stored (default one million: the insert goes into a table
and indexes of a club's few years). Then, through the real app in process, after warm-up,
three hot routes as the health team's coach: the roster (a team view), a player's health
problems (``status=all``) and a player's wellness series, each requested with
``audit.record`` active and with it replaced by a no-op, alternately in the same run (the
order swapping every round, so the machine's load reaches both alike). Prints per route
the medians with and without the audit, their ratio and difference; checks that exactly
the audited requests appended an entry; writes ``bench/results/audit.json`` and drops its
database, also when something fails. Progress goes to stderr.

The issue's target: auditing costs one insert per request, no route slower by more than
that. So the run also measures what one insert costs on its own, in the same rounds: a
transaction of one ``audit.record`` against a transaction of one ``SELECT 1`` (both
committed; the difference is the insert's round trip and the commit's WAL flush, which a
read-only transaction skips). A route meets the target when its paired median difference
(audited minus not) is at most that cost, with ``MARGIN_MS`` for the noise of two
medians; the ratios are printed beside it.

The server is ``LOADLINE_BENCH_PG_URL`` (default: the local ``postgres`` database); the
benchmark only ever creates and drops its own ``loadline_bench_<random>`` database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import create_engine, create_sessionmaker, migrate
from app.main import create_app
from app.models import AuditAction, AuditEntry, AuditResource, HealthProblem
from app.services.accounts import tokens
from app.services.audit import service as audit
from bench.coach_bench import DEFAULT_ADMIN_URL, Get, build, team_players, timed_get
from bench.seed import World, create_database, drop_database, log

RESULTS = Path(__file__).resolve().parent / "results" / "audit.json"
WARMUP = 20
MARGIN_MS = 0.3
"""The noise allowed when comparing a route's extra time with one insert's cost."""


async def _no_record(*_: Any, **__: Any) -> None:
    """What ``audit.record`` is replaced with in the "off" half of the run."""


@contextmanager
def auditing(active: bool) -> Iterator[None]:
    """``audit.record`` as it is, or a no-op; every caller looks it up on the module at
    each call (``audit.record(...)``), so the swap reaches all of them."""
    real = audit.record
    if not active:
        audit.record = _no_record  # type: ignore[assignment]
    try:
        yield
    finally:
        audit.record = real  # type: ignore[assignment]


async def seed_log(engine: AsyncEngine, world: World, entries: int) -> None:
    """``entries`` reads of the world's members by its coaches over the last year, spread
    over the resources, stored in one statement (the log takes inserts)."""
    members = sorted(world.player_team)
    statement = text(
        """
        INSERT INTO audit_entries
            (at, actor_user_id, action, resource, team_id, membership_id, resource_id,
             request_id)
        SELECT now() - (n % 365) * interval '1 day' - (n % 86400) * interval '1 second',
               :coach, 'read',
               (ARRAY['health_problem', 'ostrc', 'wellness', 'hrv', 'team_view'])[n % 5 + 1],
               :team,
               CASE WHEN n % 5 = 4 THEN NULL
                    ELSE (CAST(:members AS integer[]))[n % :count + 1] END,
               NULL,
               md5(n::text)
        FROM generate_series(1, :entries) AS n
        """
    )
    team = world.team_ids[0]
    async with engine.begin() as connection:
        await connection.execute(
            statement,
            {
                "coach": world.coach_user[team],
                "team": team,
                "members": members,
                "count": len(members),
                "entries": entries,
            },
        )
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE audit_entries"))
    log(f"audit log seeded with {entries} entries")


async def count_entries(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as db:
        return int(await db.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def hot_routes(
    sessionmaker: async_sessionmaker[AsyncSession], world: World, headers: dict[str, str]
) -> dict[str, Get]:
    """The three routes, for the health team's player with the most health problems."""
    team = world.team_ids[0]
    players = team_players(world, team)
    async with sessionmaker() as db:
        busiest = await db.scalar(
            select(HealthProblem.membership_id)
            .where(HealthProblem.membership_id.in_(players))
            .group_by(HealthProblem.membership_id)
            .order_by(func.count().desc(), HealthProblem.membership_id)
            .limit(1)
        )
    member = busiest or players[0]
    return {
        "roster": Get(f"/teams/{team}/roster", headers),
        "health_problems": Get(
            f"/performance/members/{member}/health-problems", headers, {"status": "all"}
        ),
        "wellness": Get(f"/performance/members/{member}/wellness", headers),
    }


async def measure_pairs(
    client: httpx.AsyncClient, gets: dict[str, Get], requests: int
) -> dict[str, dict[str, list[float]]]:
    """Per route and mode ("on", "off") the wall times in ms of ``requests`` rounds after
    the warm-up; each round requests every route in both modes, the modes' order swapping
    from round to round and the routes' order rotating."""
    names = list(gets)
    timings: dict[str, dict[str, list[float]]] = {n: {"on": [], "off": []} for n in names}
    for n in range(requests + WARMUP):
        modes = ("on", "off") if n % 2 == 0 else ("off", "on")
        for k in range(len(names)):
            name = names[(n + k) % len(names)]
            for mode in modes:
                with auditing(mode == "on"):
                    elapsed, _ = await timed_get(client, gets[name])
                if n >= WARMUP:
                    timings[name][mode].append(elapsed)
    return timings


async def insert_cost(
    sessionmaker: async_sessionmaker[AsyncSession], world: World, rounds: int
) -> dict[str, Any]:
    """One committed transaction of one audit insert against one of ``SELECT 1``,
    alternately; their medians in ms and the paired median difference."""
    team = world.team_ids[0]
    times: dict[str, list[float]] = {"on": [], "off": []}
    for n in range(rounds + WARMUP):
        for mode in ("on", "off") if n % 2 == 0 else ("off", "on"):
            began = time.perf_counter()
            async with sessionmaker.begin() as db:
                if mode == "on":
                    await audit.record(
                        db,
                        actor_user_id=world.coach_user[team],
                        action=AuditAction.READ,
                        resource=AuditResource.TEAM_VIEW,
                        team_id=team,
                    )
                else:
                    await db.execute(text("SELECT 1"))
            if n >= WARMUP:
                times[mode].append(1000 * (time.perf_counter() - began))
    found = figures(times)
    log(
        f"one insert: {found['median_on_ms']:.2f} ms a transaction of one audit insert, "
        f"{found['median_off_ms']:.2f} ms of SELECT 1 (paired difference "
        f"{found['median_difference_ms']:.2f} ms)"
    )
    return found


def figures(times: dict[str, list[float]]) -> dict[str, Any]:
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    paired = [a - b for a, b in zip(times["on"], times["off"], strict=True)]
    return {
        "requests_each": len(times["on"]),
        "median_on_ms": on,
        "median_off_ms": off,
        "ratio": on / off,
        "median_difference_ms": statistics.median(paired),
        "p90_on_ms": statistics.quantiles(times["on"], n=10)[-1],
        "p90_off_ms": statistics.quantiles(times["off"], n=10)[-1],
    }


async def measure(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    url: str,
    world: World,
    requests: int,
) -> dict[str, Any]:
    settings = Settings(
        database_url=url,
        secret_key=secrets.token_urlsafe(32),
        scheduler="off",
        public_base_url="http://testserver",
    )
    app = create_app(settings, sessionmaker)
    coach = world.coach_user[world.team_ids[0]]
    headers = {"Authorization": "Bearer " + tokens.encode_access_token(settings, coach)}
    gets = await hot_routes(sessionmaker, world, headers)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        load_before = os.getloadavg()
        before = await count_entries(sessionmaker)
        timings = await measure_pairs(client, gets, requests)
        appended = await count_entries(sessionmaker) - before
        one_insert = await insert_cost(sessionmaker, world, requests)
        load_after = os.getloadavg()
    audited = len(gets) * (requests + WARMUP)
    if appended != audited:
        raise RuntimeError(f"{appended} entries appended, expected {audited} (one per audited)")
    results: dict[str, Any] = {name: figures(times) for name, times in timings.items()}
    for name, found in results.items():
        log(
            f"{name}: median {found['median_on_ms']:.2f} ms audited, "
            f"{found['median_off_ms']:.2f} ms not (ratio {found['ratio']:.3f})"
        )
    return {
        "routes": results,
        "one_insert": one_insert,
        "entries_appended": appended,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }


async def run(admin_url: str, requests: int, entries: int, rng_seed: int) -> dict[str, Any]:
    """Create, migrate and seed a database, measure, and always drop it again."""
    name, url = await create_database(admin_url)
    log(f"database {name} created")
    try:
        await migrate(url)
        engine = create_engine(url)
        try:
            sessionmaker = create_sessionmaker(engine)
            world, counts = await build(engine, sessionmaker, rng_seed)
            await seed_log(engine, world, entries)
            results = await measure(engine, sessionmaker, url, world, requests)
            results["data"] = counts | {"audit_entries_seeded": entries}
            async with engine.connect() as connection:
                results["postgresql"] = str(await connection.scalar(text("SHOW server_version")))
        finally:
            await engine.dispose()
    finally:
        await drop_database(admin_url, name)
        log(f"database {name} dropped")
    return results


def print_table(results: dict[str, Any]) -> list[dict[str, Any]]:
    verdicts = []
    insert = results["one_insert"]["median_difference_ms"]
    bound = insert + MARGIN_MS
    print(
        f"one audit insert: {insert:.2f} ms (transaction of one insert "
        f"{results['one_insert']['median_on_ms']:.2f} ms, of SELECT 1 "
        f"{results['one_insert']['median_off_ms']:.2f} ms)"
    )
    for name, found in results["routes"].items():
        extra = found["median_difference_ms"]
        met = extra <= bound
        print(
            f"GET {name:<16} median {found['median_on_ms']:6.2f} ms audited, "
            f"{found['median_off_ms']:6.2f} ms not (ratio {found['ratio']:.2f}); "
            f"extra {extra:+.2f} ms <= one insert + {MARGIN_MS} ms: {'met' if met else 'MISSED'}"
        )
        verdicts.append({"route": name, "extra_ms": extra, "bound_ms": bound, "met": met})
    before, after = results["loadavg_before"], results["loadavg_after"]
    print(
        "load average (1/5/15 min): before "
        + "/".join(f"{x:.2f}" for x in before)
        + ", after "
        + "/".join(f"{x:.2f}" for x in after)
        + f" on {os.cpu_count()} CPUs"
    )
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rng-seed", type=int, default=20261125)
    args = parser.parse_args()
    admin_url = os.environ.get("LOADLINE_BENCH_PG_URL", DEFAULT_ADMIN_URL)
    began = time.perf_counter()
    results = asyncio.run(run(admin_url, args.requests, args.entries, args.rng_seed))
    verdicts = print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "command": "python -m bench.audit_bench",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "margin_ms": MARGIN_MS,
        "verdicts": verdicts,
        "results": results,
        "total_seconds": time.perf_counter() - began,
    }
    RESULTS.write_text(json.dumps(report, indent=2, default=str) + "\n")
    log(f"results written to {RESULTS}")


if __name__ == "__main__":
    main()
