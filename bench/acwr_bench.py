"""ACWR benchmark on PostgreSQL: ``make bench`` or ``python -m bench.acwr_bench``.

Seeds 10,000 athletes x 365 days into a database of its own, then measures what the issue
asks for: a full recompute, the nightly one-day advance, one athlete after a write 30 days
back, the ``acwr`` route for 365 days, and the seed's per-day computation on a sample for
comparison. Prints a table, writes ``bench/results/acwr.json`` and drops the database, also
when something fails. Progress goes to stderr.

The server is ``LOADLINE_BENCH_PG_URL`` (default: the local ``postgres`` database); the
benchmark only ever creates and drops its own ``loadline_bench_<random>`` database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import platform
import pstats
import random
import secrets
import statistics
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import event, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import create_engine, create_sessionmaker, migrate
from app.main import create_app
from app.models import DailyLoad, LoadSource, Team
from app.services.accounts import tokens
from app.services.acwr import engine as acwr_engine
from app.services.acwr import jobs as acwr_jobs
from app.services.loads import daily as loads
from bench import seed_way
from bench.seed import Scale, World, create_database, drop_database, log, seed

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).resolve().parent / "results" / "acwr.json"
COMMAND = "make bench"

TARGETS = {
    "full_recompute_s": 30.0,
    "nightly_advance_s": 3.0,
    "late_write_ms": 50.0,
    "route_p50_ms": 10.0,
    "ratio_to_seed": 100.0,
}
"""The issue's targets for these 2-core machines."""


@dataclass(frozen=True)
class Options:
    """Command-line choices; the defaults are the issue's scale and sample sizes."""

    admin_url: str
    scale: Scale
    late_writes: int
    route_requests: int
    seed_budget_s: float
    step_timeout_s: float
    profile: bool
    rng_seed: int


# -- plumbing -------------------------------------------------------------------------------


class Progress:
    """A ``refresh`` progress callback that logs about every 10 %, not every batch."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if tenth > self.shown:
            self.shown = tenth
            log(f"{self.label}: {done}/{total} athletes")


def machine_load() -> dict[str, float]:
    """The 1-minute load average and CPU pressure: the machines are shared, so say how busy.

    Figures taken while other work competed for the two cores read slower than the code is.
    """
    load: dict[str, float] = {}
    with contextlib.suppress(OSError, ValueError, IndexError):
        load["loadavg_1min"] = float(Path("/proc/loadavg").read_text().split()[0])
    with contextlib.suppress(OSError, ValueError, IndexError):
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        load["cpu_pressure_avg10_pct"] = float(some.split()[1].split("=")[1])
    return load


async def bounded(label: str, work: Awaitable[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Run one step with a deadline, so a regression fails the run instead of hanging it.

    The machine's load before and after goes into the step's figures.
    """
    before = machine_load()
    log(f"{label}: start (load {before.get('loadavg_1min', '?')})")
    try:
        async with asyncio.timeout(seconds):
            result = await work
    except TimeoutError:
        raise RuntimeError(f"{label} did not finish within {seconds:.0f} s") from None
    return {**result, "machine_load_before": before, "machine_load_after": machine_load()}


class Profiler:
    """``--profile``: cProfile plus per-statement SQL time for each step; a no-op otherwise.

    cProfile alone misleads on asyncio code (time spent awaiting the database is smeared
    over the event loop), so each section also reports wall time per SQL statement, taken
    from SQLAlchemy's cursor events; what is left is Python (and raw driver calls such as
    COPY, which those events do not see). Profiled timings are slower than real ones.
    """

    def __init__(self, engine: AsyncEngine | None) -> None:
        self.enabled = engine is not None
        self.statements: dict[str, list[float]] = {}
        if engine is not None:
            event.listen(engine.sync_engine, "before_cursor_execute", self._before)
            event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, *_: Any) -> None:
        """Stamp the statement's start on its connection."""
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        """Add the statement's wall time to its (shortened) text's total."""
        if not self.enabled or "bench_started" not in conn.info:
            return
        key = " ".join(statement.split())[:110]
        entry = self.statements.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info.pop("bench_started")

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Profile one step; reports when the block ends, even on error."""
        if not self.enabled:
            yield
            return
        self.statements.clear()
        profiler = cProfile.Profile()
        began = time.perf_counter()
        profiler.enable()
        try:
            yield
        finally:
            profiler.disable()
            self._report(name, time.perf_counter() - began, profiler)

    def _report(self, name: str, wall: float, profiler: cProfile.Profile) -> None:
        """SQL time per statement, the remainder, and the hottest Python functions."""
        path = RESULTS.parent / f"{name}.prof"
        path.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(path)
        in_sql = sum(total for _, total in self.statements.values())
        print(
            f"\n== {name}: {wall:.2f} s wall, {in_sql:.2f} s in SQL statements, rest "
            f"{wall - in_sql:.2f} s (Python, raw COPY); cProfile data in {path}"
        )
        ranked = sorted(self.statements.items(), key=lambda item: -item[1][1])
        for statement, (count, total) in ranked[:12]:
            print(f"{total:9.3f} s {count:6d}x  {statement}")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


async def vacuum_analyze(engine: AsyncEngine, *tables: str) -> None:
    """Fresh statistics between steps, as autovacuum would give a production database."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text(f"VACUUM ANALYZE {', '.join(tables)}"))


async def load_teams(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Team]:
    """Every team, detached but loaded: ``refresh`` only reads their id, zone and settings."""
    async with sessionmaker() as session:
        return list(await session.scalars(select(Team).order_by(Team.id)))


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, as numpy defines it, so p99 of 300 samples is stable."""
    return float(np.percentile(np.array(values), q))


# -- the scenarios --------------------------------------------------------------------------


async def full_recompute(
    sessionmaker: async_sessionmaker[AsyncSession],
    teams: list[Team],
    prof: Profiler,
    name: str = "full_recompute",
) -> dict[str, Any]:
    """Every athlete from their first day, committed: what ``loadline acwr recompute`` runs
    (``acwr_jobs.rebuild``: two workers, so PostgreSQL ingests one batch while Python
    computes the next).

    Run first on an empty snapshot table (what the 0002 upgrade's backfill does), then again
    over a full one, which must replace every row.
    """
    with prof.section(name):
        began = time.perf_counter()
        days = await acwr_jobs.rebuild(
            sessionmaker, teams, LoadSource.INTERNAL, workers=2, progress=Progress(name)
        )
        seconds = time.perf_counter() - began
    return {"seconds": seconds, "athlete_days": days, "athlete_days_per_s": days / seconds}


async def rewind_one_day(engine: AsyncEngine, world: World) -> None:
    """Put every athlete where they stood last night: computed through yesterday.

    The state's stored averages become yesterday's (from its snapshot) and today's snapshots
    go, exactly what the table holds just before the midnight job runs.
    """
    yesterday = world.today - timedelta(days=1)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE acwr_state SET computed_through = :y WHERE computed_through IS NOT NULL"),
            {"y": yesterday},
        )
        await connection.execute(
            text(
                "UPDATE acwr_state s SET acute_ewma = l.acute_ewma, chronic_ewma = l.chronic_ewma"
                " FROM load_acwr l WHERE l.membership_id = s.membership_id"
                " AND l.source = s.source AND l.date = :y"
            ),
            {"y": yesterday},
        )
        await connection.execute(text("DELETE FROM load_acwr WHERE date = :t"), {"t": world.today})


async def nightly_advance(
    sessionmaker: async_sessionmaker[AsyncSession], teams: list[Team], prof: Profiler
) -> dict[str, Any]:
    """One ``refresh`` (not full) that moves every athlete from yesterday to today."""
    async with sessionmaker() as session:
        with prof.section("nightly_advance"):
            began = time.perf_counter()
            days = await acwr_engine.refresh(
                session, teams, LoadSource.INTERNAL, progress=Progress("advance")
            )
            await session.commit()
            seconds = time.perf_counter() - began
    return {"seconds": seconds, "athlete_days": days}


async def settle_external(
    sessionmaker: async_sessionmaker[AsyncSession], teams: list[Team]
) -> None:
    """Give every athlete their EXTERNAL state row once, untimed.

    The scheduler advances both sources; without this its first night would also create
    10,000 state rows, which happens once per install, not every night.
    """
    async with sessionmaker.begin() as session:
        await acwr_engine.refresh(session, teams, LoadSource.EXTERNAL)


async def nightly_per_team(
    sessionmaker: async_sessionmaker[AsyncSession], world: World
) -> dict[str, Any]:
    """The same advance as the scheduler runs it: ``advance_team`` per team, both sources.

    Informational: in production teams in one zone all fire at the same midnight.
    """
    began = time.perf_counter()
    days = 0
    for team_id in world.team_ids:
        days += await acwr_jobs.advance_team(sessionmaker, team_id)
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "athlete_days": days, "teams": len(world.team_ids)}


async def late_write(
    sessionmaker: async_sessionmaker[AsyncSession],
    teams: dict[int, Team],
    world: World,
    membership_id: int,
) -> float:
    """Change one athlete's load 30 days back, mark them dirty, time their recompute (s)."""
    team = teams[world.player_team[membership_id]]
    day = world.today - timedelta(days=30)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DailyLoad)
            .where(DailyLoad.membership_id == membership_id, DailyLoad.date == day)
            .values(
                internal_load_au=DailyLoad.internal_load_au + 150,
                attended_sessions=1,
                rated_sessions=1,
            )
        )
        await loads.mark_acwr_dirty(session, team.id, membership_id, LoadSource.INTERNAL, day)
    async with sessionmaker() as session:
        began = time.perf_counter()
        days = await acwr_engine.refresh(
            session, [team], LoadSource.INTERNAL, membership_ids=[membership_id]
        )
        await session.commit()
        seconds = time.perf_counter() - began
    if days != 31:
        raise RuntimeError(f"late write recomputed {days} athlete-days, expected 31")
    return seconds


async def late_writes(
    sessionmaker: async_sessionmaker[AsyncSession],
    teams: list[Team],
    world: World,
    opts: Options,
    rng: random.Random,
    prof: Profiler,
) -> dict[str, Any]:
    """:func:`late_write` on different athletes (after one warm-up); median and p99 in ms."""
    by_id = {team.id: team for team in teams}
    members = rng.sample(sorted(world.player_team), opts.late_writes + 1)
    await late_write(sessionmaker, by_id, world, members[0])
    timings = []
    with prof.section("late_write"):
        for membership_id in members[1:]:
            timings.append(1000 * await late_write(sessionmaker, by_id, world, membership_id))
    return {
        "runs": len(timings),
        "median_ms": statistics.median(timings),
        "p99_ms": percentile(timings, 99),
        "max_ms": max(timings),
    }


@contextlib.asynccontextmanager
async def api_client(
    sessionmaker: async_sessionmaker[AsyncSession], url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    """The real app, in process, over ``httpx.ASGITransport``, as the tests drive it."""
    settings = Settings(
        database_url=url,
        secret_key=secrets.token_urlsafe(32),
        scheduler="off",
        public_base_url="http://testserver",
    )
    app = create_app(settings, sessionmaker)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, settings


async def acwr_route(
    sessionmaker: async_sessionmaker[AsyncSession],
    url: str,
    world: World,
    opts: Options,
    rng: random.Random,
    prof: Profiler,
) -> dict[str, Any]:
    """``GET /performance/members/{id}/acwr`` for 365 days, as each team's coach; p50/p99."""
    params = {"from": world.first_day.isoformat(), "to": world.today.isoformat()}
    warmup = 20
    members = [rng.choice(sorted(world.player_team)) for _ in range(opts.route_requests + warmup)]
    timings = []
    async with api_client(sessionmaker, url) as (client, settings):
        headers = {
            team_id: {"Authorization": f"Bearer {tokens.encode_access_token(settings, user)}"}
            for team_id, user in world.coach_user.items()
        }
        with prof.section("acwr_route"):
            for n, membership_id in enumerate(members):
                began = time.perf_counter()
                response = await client.get(
                    f"/performance/members/{membership_id}/acwr",
                    params=params,
                    headers=headers[world.player_team[membership_id]],
                )
                elapsed = time.perf_counter() - began
                if response.status_code != 200 or len(response.json()["points"]) != 365:
                    raise RuntimeError(f"acwr route: {response.status_code} {response.text[:200]}")
                if n >= warmup:
                    timings.append(1000 * elapsed)
    return {
        "requests": len(timings),
        "p50_ms": percentile(timings, 50),
        "p99_ms": percentile(timings, 99),
        "max_ms": max(timings),
    }


async def seed_baseline(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    world: World,
    opts: Options,
    rng: random.Random,
    prof: Profiler,
) -> dict[str, Any]:
    """The seed's per-day loop on as many athletes as fit in the time budget."""
    await seed_way.create_scratch_table(engine)
    members = rng.sample(sorted(world.player_team), len(world.player_team))
    with prof.section("seed_way"):
        athletes, days, seconds = await seed_way.run_sample(
            sessionmaker, members, world.first_day, world.today, opts.seed_budget_s
        )
    return {
        "athletes": athletes,
        "athlete_days": days,
        "seconds": seconds,
        "athlete_days_per_s": days / seconds,
    }


# -- reporting ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on; the machines are shared, so this matters."""
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        kib = int(meminfo.readline().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


async def server_version(engine: AsyncEngine) -> str:
    """PostgreSQL's version, for the record beside the machine."""
    async with engine.connect() as connection:
        return str(await connection.scalar(text("SHOW server_version")))


Verdict = tuple[str, str, str, bool | None]
"""(measure, figure, target, met); ``met`` is None for figures the issue sets no target for."""


def verdicts(results: dict[str, Any]) -> list[Verdict]:
    """The issue's five measures against their targets, then two informational figures."""
    full, advance = results["full_recompute"], results["nightly_advance"]
    late, route = results["late_write_30_days_back"], results["acwr_route_365_days"]
    ratio = results["ratio_to_seed"]
    return [
        (
            f"full recompute, {full['athlete_days']:,} athlete-days",
            f"{full['seconds']:.1f} s ({full['athlete_days_per_s']:,.0f} athlete-days/s)",
            f"<= {TARGETS['full_recompute_s']:.0f} s",
            full["seconds"] <= TARGETS["full_recompute_s"],
        ),
        (
            f"nightly advance, {advance['athlete_days']:,} athletes",
            f"{advance['seconds']:.2f} s",
            f"<= {TARGETS['nightly_advance_s']:.0f} s",
            advance["seconds"] <= TARGETS["nightly_advance_s"],
        ),
        (
            "one athlete after a write 30 days back",
            f"median {late['median_ms']:.1f} ms, p99 {late['p99_ms']:.1f} ms",
            f"<= {TARGETS['late_write_ms']:.0f} ms",
            late["median_ms"] <= TARGETS["late_write_ms"],
        ),
        (
            "acwr route, 365 days",
            f"p50 {route['p50_ms']:.1f} ms, p99 {route['p99_ms']:.1f} ms",
            f"p50 < {TARGETS['route_p50_ms']:.0f} ms",
            route["p50_ms"] < TARGETS["route_p50_ms"],
        ),
        (
            "engine vs seed's way (athlete-days/s)",
            f"{ratio:,.0f}x (seed: {results['seed_way']['athlete_days_per_s']:,.0f}/s)",
            f">= {TARGETS['ratio_to_seed']:.0f}x",
            ratio >= TARGETS["ratio_to_seed"],
        ),
        *informational(results),
    ]


def informational(results: dict[str, Any]) -> list[Verdict]:
    """Figures beside the targets that show what production runs also cost."""
    again, per_team = results["full_recompute_replacing"], results["nightly_advance_per_team"]
    return [
        (
            "full recompute again, replacing every row",
            f"{again['seconds']:.1f} s ({again['athlete_days_per_s']:,.0f} athlete-days/s)",
            "(none)",
            None,
        ),
        (
            f"nightly as scheduled: {per_team['teams']} x advance_team, both sources",
            f"{per_team['seconds']:.2f} s",
            "(none)",
            None,
        ),
    ]


def print_table(rows: list[Verdict]) -> None:
    """The verdicts as aligned text on stdout, the part a person reads first."""
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for name, figure, target, met in rows:
        verdict = "info" if met is None else "met" if met else "MISSED"
        print(f"{name:<{widths[0]}}  {figure:<{widths[1]}}  {target:<{widths[2]}}  {verdict}")


def write_results(report: dict[str, Any]) -> None:
    """Keep the full figures as JSON, so docs/PERFORMANCE.md can quote them exactly."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, default=str) + "\n")
    log(f"results written to {RESULTS}")


# -- the run --------------------------------------------------------------------------------


async def measure(engine: AsyncEngine, url: str, world: World, opts: Options) -> dict[str, Any]:
    """Every scenario in order; each leaves the data as the next one expects it."""
    sessionmaker = create_sessionmaker(engine)
    rng = random.Random(opts.rng_seed)
    teams = await load_teams(sessionmaker)
    prof = Profiler(engine if opts.profile else None)
    limit = opts.step_timeout_s
    results: dict[str, Any] = {}
    results["full_recompute"] = await bounded(
        "full recompute", full_recompute(sessionmaker, teams, prof), limit
    )
    results["full_recompute_replacing"] = await bounded(
        "full recompute, replacing",
        full_recompute(sessionmaker, teams, prof, "full_recompute_replacing"),
        limit,
    )
    await vacuum_analyze(engine, "load_acwr", "acwr_state")
    await rewind_one_day(engine, world)
    results["nightly_advance"] = await bounded(
        "nightly advance", nightly_advance(sessionmaker, teams, prof), limit
    )
    await settle_external(sessionmaker, teams)
    await rewind_one_day(engine, world)
    results["nightly_advance_per_team"] = await bounded(
        "nightly advance per team", nightly_per_team(sessionmaker, world), limit
    )
    results["late_write_30_days_back"] = await bounded(
        "late writes", late_writes(sessionmaker, teams, world, opts, rng, prof), limit
    )
    results["acwr_route_365_days"] = await bounded(
        "acwr route", acwr_route(sessionmaker, url, world, opts, rng, prof), limit
    )
    results["seed_way"] = await bounded(
        "seed's way", seed_baseline(engine, sessionmaker, world, opts, rng, prof), limit
    )
    results["ratio_to_seed"] = (
        results["full_recompute"]["athlete_days_per_s"] / results["seed_way"]["athlete_days_per_s"]
    )
    return results


async def run(opts: Options) -> dict[str, Any]:
    """Create, migrate and seed a database, measure, and always drop it again."""
    name, url = await create_database(opts.admin_url)
    log(f"database {name} created")
    try:
        await migrate(url)
        engine = create_engine(url)
        try:
            began = time.perf_counter()
            world = await seed(engine, opts.scale, np.random.default_rng(opts.rng_seed))
            log(f"seeded in {time.perf_counter() - began:.0f} s")
            results = await measure(engine, url, world, opts)
            results["postgresql"] = await server_version(engine)
        finally:
            await engine.dispose()
    finally:
        await drop_database(opts.admin_url, name)
        log(f"database {name} dropped")
    return results


def parse_args() -> Options:
    """Options from the command line; the server comes from ``LOADLINE_BENCH_PG_URL``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teams", type=int, default=250)
    parser.add_argument("--players-per-team", type=int, default=40)
    parser.add_argument("--late-writes", type=int, default=20)
    parser.add_argument("--route-requests", type=int, default=300)
    parser.add_argument(
        "--seed-budget", type=float, default=40.0, help="seconds for the seed's way"
    )
    parser.add_argument("--step-timeout", type=float, default=300.0)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="per step: SQL time per statement and a cProfile (figures then read slower)",
    )
    parser.add_argument("--rng-seed", type=int, default=20261125)
    args = parser.parse_args()
    return Options(
        admin_url=os.environ.get("LOADLINE_BENCH_PG_URL", DEFAULT_ADMIN_URL),
        scale=Scale(teams=args.teams, players_per_team=args.players_per_team),
        late_writes=args.late_writes,
        route_requests=args.route_requests,
        seed_budget_s=args.seed_budget,
        step_timeout_s=args.step_timeout,
        profile=args.profile,
        rng_seed=args.rng_seed,
    )


def git_revision() -> str:
    """Which code the figures belong to; ``-dirty`` says the working tree had changes."""
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607 - developer tool, fixed args
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return "unknown"


def main() -> None:
    """Run everything, print the table and write the JSON report."""
    opts = parse_args()
    began = time.perf_counter()
    results = asyncio.run(run(opts))
    rows = verdicts(results)
    print_table(rows)
    write_results(
        {
            "command": COMMAND,
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "git_revision": git_revision(),
            "machine": machine(),
            "scale": {
                "teams": opts.scale.teams,
                "players_per_team": opts.scale.players_per_team,
                "athletes": opts.scale.athletes,
                "days": opts.scale.days,
            },
            "targets": TARGETS,
            "verdicts": [
                {"measure": m, "figure": f, "target": t, "met": ok} for m, f, t, ok in rows
            ],
            "results": results,
            "total_seconds": time.perf_counter() - began,
        }
    )


if __name__ == "__main__":
    main()
