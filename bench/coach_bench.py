"""Coach views benchmark on PostgreSQL: ``python -m bench.coach_bench``.

One team of 40 players with a year of data: the daily loads from :func:`bench.seed.seed`,
plus five sessions a week with attendance for every player (a few absent or late) and an
sRPE for most, a wellness check-in most mornings (every player today), HRV most mornings
and a few open alerts; ACWR snapshots are computed with a full refresh. Then, through the
real app in process, after warm-up: the roster and the dashboard (p50/p99) and the weekly
PDF of the current ISO week (median). Prints a table against the issue's targets with the
machine's load average, writes ``bench/results/coach.json`` and drops its database, also
when something fails. Progress goes to stderr.

The server is ``LOADLINE_BENCH_PG_URL`` (default: the local ``postgres`` database); the
benchmark only ever creates and drops its own ``loadline_bench_<random>`` database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import create_engine, create_sessionmaker, migrate
from app.main import create_app
from app.models import (
    Alert,
    AlertKind,
    Attendance,
    AttendanceStatus,
    DailyHRV,
    HrvSource,
    LoadSource,
    SessionRPE,
    SessionType,
    Severity,
    Team,
    TrainingSession,
    WellnessLog,
)
from app.services.accounts import tokens
from app.services.acwr import engine as acwr_engine
from bench.seed import Scale, World, create_database, drop_database, log, seed

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).resolve().parent / "results" / "coach.json"
PLAYERS = 40
WARMUP = 20

TARGETS = {"roster_p50_ms": 20.0, "dashboard_p50_ms": 20.0, "weekly_pdf_s": 5.0}
"""The issue's targets: a 40-player team with a year of data."""

TRAINING_DAYS = {
    0: SessionType.TECHNICAL,
    1: SessionType.CONDITIONING,
    3: SessionType.TACTICAL,
    4: SessionType.RECOVERY,
    5: SessionType.MATCH,
}
"""Five sessions a week on the seed's training days (Wednesday and Sunday are rest)."""

ABSENT_RATE, LATE_RATE, EXCUSED_RATE = 0.03, 0.03, 0.01
SRPE_RATE = 0.92
WELLNESS_RATE = 0.85
HRV_RATE = 0.80


# -- the data beyond daily loads -----------------------------------------------------------


def _status(rng: random.Random) -> AttendanceStatus:
    draw = rng.random()
    if draw < ABSENT_RATE:
        return AttendanceStatus.ABSENT
    if draw < ABSENT_RATE + LATE_RATE:
        return AttendanceStatus.LATE
    if draw < ABSENT_RATE + LATE_RATE + EXCUSED_RATE:
        return AttendanceStatus.EXCUSED
    return AttendanceStatus.PRESENT


async def seed_sessions(
    session: AsyncSession, team_id: int, players: list[int], world: World, rng: random.Random
) -> dict[str, int]:
    """Sessions five days a week, attendance for every player, an sRPE for most attended."""
    days = [world.first_day + timedelta(days=i) for i in range(world.scale.days)]
    session_rows = []
    for day in days:
        kind = TRAINING_DAYS.get(day.weekday())
        if kind is None:
            continue
        start = datetime.combine(day, clock(10, 0), tzinfo=UTC)
        minutes = 90 if kind is SessionType.MATCH else 75
        session_rows.append(
            {
                "team_id": team_id,
                "session_type": kind,
                "title": f"{kind.value.title()} {day.isoformat()}",
                "start": start,
                "end": start + timedelta(minutes=minutes),
                "day": day,
            }
        )
    ids = list(
        await session.scalars(
            insert(TrainingSession).returning(TrainingSession.id, sort_by_parameter_order=True),
            session_rows,
        )
    )
    attendance, rpes = [], []
    for session_id, row in zip(ids, session_rows, strict=True):
        minutes = round((row["end"] - row["start"]).total_seconds() / 60)
        for member in players:
            status = _status(rng)
            attended = status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE)
            attendance.append(
                {
                    "team_id": team_id,
                    "session_id": session_id,
                    "membership_id": member,
                    "status": status,
                    "minutes_participated": minutes if attended else 0,
                }
            )
            if attended and rng.random() < SRPE_RATE:
                rpe = Decimal(rng.randint(6, 18)) / 2  # 3.0 .. 9.0 in halves
                rpes.append(
                    {
                        "team_id": team_id,
                        "session_id": session_id,
                        "membership_id": member,
                        "rpe_0_10": rpe,
                        "duration_min": minutes,
                        "load_au": round(rpe * minutes),
                    }
                )
    await session.execute(insert(Attendance), attendance)
    await session.execute(insert(SessionRPE), rpes)
    return {"sessions": len(ids), "attendance": len(attendance), "session_rpe": len(rpes)}


async def seed_mornings(
    session: AsyncSession, team_id: int, players: list[int], world: World, rng: random.Random
) -> dict[str, int]:
    """Wellness most mornings (every player today) and HRV most mornings."""
    wellness, readings = [], []
    for member in players:
        baseline = rng.gauss(70, 12)
        for i in range(world.scale.days):
            day = world.first_day + timedelta(days=i)
            if day == world.today or rng.random() < WELLNESS_RATE:
                wellness.append(
                    {
                        "team_id": team_id,
                        "membership_id": member,
                        "date": day,
                        "sleep_quality": rng.randint(2, 5),
                        "mood": rng.randint(2, 5),
                        "soreness": rng.randint(1, 5),
                        "stress": rng.randint(2, 5),
                        "fatigue": rng.randint(1, 5),
                    }
                )
            if rng.random() < HRV_RATE:
                rmssd = max(20.0, rng.gauss(baseline, baseline * 0.12))
                readings.append(
                    {
                        "team_id": team_id,
                        "membership_id": member,
                        "date": day,
                        "rmssd_ms": round(rmssd, 1),
                        "ln_rmssd": math.log(round(rmssd, 1)),
                        "source": HrvSource.WHOOP,
                    }
                )
    await session.execute(insert(WellnessLog), wellness)
    await session.execute(insert(DailyHRV), readings)
    return {"wellness_logs": len(wellness), "daily_hrv": len(readings)}


async def seed_alerts(
    session: AsyncSession, team_id: int, players: list[int], world: World, rng: random.Random
) -> dict[str, int]:
    """A year of alerts, all acknowledged but the last two weeks' (about 25 open)."""
    rows, seen = [], set()
    kinds = list(AlertKind)
    for _ in range(400):
        member, kind = rng.choice(players), rng.choice(kinds)
        day = world.today - timedelta(days=rng.randrange(world.scale.days))
        if (member, kind, day) in seen:
            continue
        seen.add((member, kind, day))
        open_ = (world.today - day).days < 14
        rows.append(
            {
                "team_id": team_id,
                "membership_id": member,
                "kind": kind,
                "date": day,
                "severity": Severity.RED if kind is AlertKind.ACWR_DANGER else Severity.AMBER,
                "message": f"{kind.value} on {day.isoformat()}",
                "evidence": {"rule": kind.value, "params": {}, "inputs": {"value": 1.0}},
                "acknowledged_at": None if open_ else datetime.combine(day, clock(12), tzinfo=UTC),
            }
        )
    await session.execute(insert(Alert), rows)
    return {"alerts": len(rows), "open_alerts": sum(r["acknowledged_at"] is None for r in rows)}


async def build(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], rng_seed: int
) -> tuple[World, dict[str, Any]]:
    """Seed the world, add the coach-facing data, compute ACWR, refresh statistics."""
    began = time.perf_counter()
    world = await seed(
        engine, Scale(teams=1, players_per_team=PLAYERS), np.random.default_rng(rng_seed)
    )
    rng = random.Random(rng_seed)
    team_id = world.team_ids[0]
    players = sorted(m for m, t in world.player_team.items() if t == team_id)
    counts: dict[str, Any] = {"players": len(players), "daily_loads": len(players) * 365}
    async with sessionmaker.begin() as session:
        counts |= await seed_sessions(session, team_id, players, world, rng)
        counts |= await seed_mornings(session, team_id, players, world, rng)
        counts |= await seed_alerts(session, team_id, players, world, rng)
    seeded = time.perf_counter() - began
    log(f"seeded in {seeded:.1f} s: {counts}")
    began = time.perf_counter()
    async with sessionmaker.begin() as session:
        teams = list(await session.scalars(select(Team)))
        days = await acwr_engine.refresh(session, teams, LoadSource.INTERNAL, full=True)
    counts["acwr_athlete_days"] = days
    counts["acwr_refresh_s"] = time.perf_counter() - began
    log(f"ACWR full refresh: {days} athlete-days in {counts['acwr_refresh_s']:.1f} s")
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))
    counts["seed_s"] = seeded
    return world, counts


# -- measuring ------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


async def timed_gets(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    count: int,
    params: dict[str, str] | None = None,
) -> tuple[list[float], httpx.Response]:
    """``count`` sequential GETs after the warm-up; wall time of each in ms."""
    timings: list[float] = []
    response: httpx.Response | None = None
    for n in range(count + WARMUP):
        began = time.perf_counter()
        response = await client.get(path, headers=headers, params=params)
        elapsed = time.perf_counter() - began
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
        if n >= WARMUP:
            timings.append(1000 * elapsed)
    assert response is not None
    return timings, response


async def measure(
    sessionmaker: async_sessionmaker[AsyncSession],
    url: str,
    world: World,
    requests: int,
    pdfs: int,
) -> dict[str, Any]:
    settings = Settings(
        database_url=url,
        secret_key=secrets.token_urlsafe(32),
        scheduler="off",
        public_base_url="http://testserver",
    )
    app = create_app(settings, sessionmaker)
    team_id = world.team_ids[0]
    token = tokens.encode_access_token(settings, world.coach_user[team_id])
    headers = {"Authorization": f"Bearer {token}"}
    year, week, _ = world.today.isocalendar()
    iso_week = f"{year}-W{week:02d}"
    results: dict[str, Any] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        load_before = os.getloadavg()
        timings, response = await timed_gets(client, f"/teams/{team_id}/roster", headers, requests)
        roster = response.json()
        if len(roster) != PLAYERS or not all(e["latest_acwr"] for e in roster):
            raise RuntimeError(f"roster: {len(roster)} entries, expected {PLAYERS} with ACWR")
        results["roster"] = summary(timings) | {"entries": len(roster)}
        log(f"roster: p50 {results['roster']['p50_ms']:.1f} ms")

        timings, response = await timed_gets(
            client, f"/teams/{team_id}/dashboard", headers, requests
        )
        board = response.json()
        if len(board["players"]) != PLAYERS or board["wellness_missing"]:
            raise RuntimeError("dashboard: unexpected players or missing check-ins")
        results["dashboard"] = summary(timings) | {
            "players": len(board["players"]),
            "open_alerts": len(board["open_alerts"]),
        }
        log(f"dashboard: p50 {results['dashboard']['p50_ms']:.1f} ms")

        seconds = []
        size = 0
        for _ in range(pdfs):
            began = time.perf_counter()
            response = await client.get(
                f"/teams/{team_id}/reports/weekly.pdf", headers=headers, params={"week": iso_week}
            )
            seconds.append(time.perf_counter() - began)
            if response.status_code != 200:
                raise RuntimeError(f"weekly.pdf: {response.status_code} {response.text[:300]}")
            if not (
                response.headers["content-type"].startswith("application/pdf")
                and response.content.startswith(b"%PDF-")
            ):
                raise RuntimeError("weekly.pdf: the response is not a PDF")
            size = len(response.content)
        results["weekly_pdf"] = {
            "week": iso_week,
            "runs": len(seconds),
            "median_s": statistics.median(seconds),
            "max_s": max(seconds),
            "bytes": size,
        }
        log(f"weekly.pdf: median {results['weekly_pdf']['median_s']:.2f} s")
        results["loadavg_before"] = load_before
        results["loadavg_after"] = os.getloadavg()
    return results


def summary(timings: list[float]) -> dict[str, float]:
    return {
        "requests": len(timings),
        "p50_ms": percentile(timings, 50),
        "p99_ms": percentile(timings, 99),
        "max_ms": max(timings),
    }


# -- the run --------------------------------------------------------------------------------


async def run(admin_url: str, requests: int, pdfs: int, rng_seed: int) -> dict[str, Any]:
    """Create, migrate and seed a database, measure, and always drop it again."""
    name, url = await create_database(admin_url)
    log(f"database {name} created")
    try:
        await migrate(url)
        engine = create_engine(url)
        try:
            sessionmaker = create_sessionmaker(engine)
            world, counts = await build(engine, sessionmaker, rng_seed)
            results = await measure(sessionmaker, url, world, requests, pdfs)
            results["data"] = counts
            async with engine.connect() as connection:
                results["postgresql"] = str(await connection.scalar(text("SHOW server_version")))
        finally:
            await engine.dispose()
    finally:
        await drop_database(admin_url, name)
        log(f"database {name} dropped")
    return results


def print_table(results: dict[str, Any]) -> list[dict[str, Any]]:
    roster, board, pdf = results["roster"], results["dashboard"], results["weekly_pdf"]
    rows = [
        (
            f"GET roster, {PLAYERS} players",
            f"p50 {roster['p50_ms']:.1f} ms, p99 {roster['p99_ms']:.1f} ms",
            f"p50 < {TARGETS['roster_p50_ms']:.0f} ms",
            roster["p50_ms"] < TARGETS["roster_p50_ms"],
        ),
        (
            f"GET dashboard, {PLAYERS} players",
            f"p50 {board['p50_ms']:.1f} ms, p99 {board['p99_ms']:.1f} ms",
            f"p50 < {TARGETS['dashboard_p50_ms']:.0f} ms",
            board["p50_ms"] < TARGETS["dashboard_p50_ms"],
        ),
        (
            f"GET weekly.pdf {pdf['week']}, {PLAYERS} players",
            f"median {pdf['median_s']:.2f} s, max {pdf['max_s']:.2f} s",
            f"< {TARGETS['weekly_pdf_s']:.0f} s",
            pdf["median_s"] < TARGETS["weekly_pdf_s"],
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for measure_, figure, target, met in rows:
        print(
            f"{measure_:<{widths[0]}}  {figure:<{widths[1]}}  {target:<{widths[2]}}  "
            f"{'met' if met else 'MISSED'}"
        )
    before, after = results["loadavg_before"], results["loadavg_after"]
    print(
        "load average (1/5/15 min): before "
        + "/".join(f"{x:.2f}" for x in before)
        + ", after "
        + "/".join(f"{x:.2f}" for x in after)
        + f" on {os.cpu_count()} CPUs"
    )
    return [{"measure": m, "figure": f, "target": t, "met": ok} for m, f, t, ok in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pdfs", type=int, default=5)
    parser.add_argument("--rng-seed", type=int, default=20261125)
    args = parser.parse_args()
    admin_url = os.environ.get("LOADLINE_BENCH_PG_URL", DEFAULT_ADMIN_URL)
    began = time.perf_counter()
    results = asyncio.run(run(admin_url, args.requests, args.pdfs, args.rng_seed))
    verdicts = print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "command": "python -m bench.coach_bench",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "targets": TARGETS,
        "verdicts": verdicts,
        "results": results,
        "total_seconds": time.perf_counter() - began,
    }
    RESULTS.write_text(json.dumps(report, indent=2, default=str) + "\n")
    log(f"results written to {RESULTS}")


if __name__ == "__main__":
    main()
