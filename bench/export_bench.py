"""Export benchmark: ``python -m bench.export_bench`` (issue 13).

One team, two players: one with a year of data, one with three (a session every day with
attendance and an sRPE, a wellness check-in and an HRV value every morning, the daily loads
and the ACWR snapshots computed as the service does). Each player's export
(``GET /teams/{team_id}/members/{membership_id}/export``) is run through the real app in
process (the ASGI app called as a server calls it, the body's chunks counted and dropped,
as a socket would send them): first timed, then once more under ``tracemalloc`` for the
peak of Python memory allocated while it streams. Bounded memory means the 3-year peak
stays close to the 1-year one although the archive is three times larger. The last
archive of each is opened to check its row counts. Prints a table, writes
``bench/results/export.json`` and drops its database.

The server is ``LOADLINE_BENCH_PG_URL`` (default: the local ``postgres`` database); only a
``loadline_bench_<random>`` database is created and dropped. ``--sqlite`` runs on a
temporary SQLite file instead.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import os
import random
import secrets
import tempfile
import time
import tracemalloc
import zipfile
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from app.config import Settings
from app.db import create_engine, create_sessionmaker, migrate
from app.main import create_app
from app.models import (
    Attendance,
    AttendanceStatus,
    DailyHRV,
    HrvSource,
    LoadSource,
    Role,
    SessionRPE,
    Team,
    TeamMembership,
    TrainingSession,
    User,
    WellnessLog,
)
from app.services.accounts import service as accounts
from app.services.accounts import tokens
from app.services.acwr import engine as acwr_engine
from app.services.loads import daily
from bench.seed import create_database, drop_database, log

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).resolve().parent / "results" / "export.json"
YEARS = (1, 3)
RUNS = 3


async def seed(
    url: str, rng: random.Random, spans: tuple[int, ...]
) -> tuple[int, int, dict[int, int]]:
    """The team, its owner and one player per entry of ``YEARS``; returns the owner's id,
    the team's id and each player's membership id by years of data."""
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=i) for i in range(365 * max(spans))][::-1]
    async with sessionmaker.begin() as db:
        # A password of its own (an account without one signs in with no token).
        password = accounts.hash_password(secrets.token_hex(8))
        owner = User(email="owner@bench.example", full_name="Owner", password_hash=password)
        team = Team(name="Bench RFC", timezone="UTC")
        db.add_all([owner, team])
        await db.flush()
        db.add(TeamMembership(team_id=team.id, user_id=owner.id, role=Role.OWNER))
        members: dict[int, int] = {}
        for years in spans:
            user = User(email=f"p{years}@bench.example", full_name=f"P{years}")
            db.add(user)
            await db.flush()
            m = TeamMembership(team_id=team.id, user_id=user.id, role=Role.PLAYER)
            db.add(m)
            await db.flush()
            members[years] = m.id
        sessions = [
            {
                "team_id": team.id,
                "title": f"Training {day.isoformat()}",
                "start": datetime.combine(day, clock(6, 0), UTC),
                "end": datetime.combine(day, clock(7, 15), UTC),
                "day": day,
            }
            for day in days
        ]
        ids = list(
            await db.scalars(
                insert(TrainingSession).returning(TrainingSession.id, sort_by_parameter_order=True),
                sessions,
            )
        )
        for years, m in members.items():
            first = today - timedelta(days=365 * years - 1)
            mine = [(sid, day) for sid, day in zip(ids, days, strict=True) if day >= first]
            await db.execute(
                insert(Attendance),
                [
                    {
                        "team_id": team.id,
                        "session_id": sid,
                        "membership_id": m,
                        "status": AttendanceStatus.PRESENT,
                        "minutes_participated": 75,
                    }
                    for sid, _ in mine
                ],
            )
            rpes = [Decimal(rng.randint(6, 18)) / 2 for _ in mine]
            await db.execute(
                insert(SessionRPE),
                [
                    {
                        "team_id": team.id,
                        "session_id": sid,
                        "membership_id": m,
                        "rpe_0_10": rpe,
                        "duration_min": 75,
                        "load_au": round(rpe * 75),
                    }
                    for (sid, _), rpe in zip(mine, rpes, strict=True)
                ],
            )
            await db.execute(
                insert(WellnessLog),
                [
                    {
                        "team_id": team.id,
                        "membership_id": m,
                        "date": day,
                        "sleep_quality": rng.randint(2, 5),
                        "mood": rng.randint(2, 5),
                        "soreness": rng.randint(1, 5),
                        "stress": rng.randint(2, 5),
                        "fatigue": rng.randint(1, 5),
                        "notes": "ok" if rng.random() < 0.2 else None,
                    }
                    for _, day in mine
                ],
            )
            readings = [round(max(20.0, rng.gauss(70, 8)), 1) for _ in mine]
            await db.execute(
                insert(DailyHRV),
                [
                    {
                        "team_id": team.id,
                        "membership_id": m,
                        "date": day,
                        "rmssd_ms": rmssd,
                        "ln_rmssd": math.log(rmssd),
                        "source": HrvSource.MANUAL,
                    }
                    for (_, day), rmssd in zip(mine, readings, strict=True)
                ],
            )
        await daily.rebuild_team(db, team.id)
        owner_id, team_id = owner.id, team.id
    async with sessionmaker.begin() as db:
        stored = await db.get_one(Team, team_id)
        await acwr_engine.refresh(db, [stored], LoadSource.INTERNAL, full=True)
    await engine.dispose()
    return owner_id, team_id, members


async def export_once(app: Any, path: str, token: str) -> tuple[int, bytes]:
    """One GET through the ASGI app; the body's chunks are counted and dropped except the
    last archive's, which is kept (outside the measured peak) only when asked for."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
        "state": {},
    }
    sent = 0
    status = 0
    digest = io.BytesIO() if os.environ.get("_KEEP") else None

    asked = False
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        """The (empty) request body once; then, as a connection that stays open, nothing
        (Starlette listens for a disconnect while it streams)."""
        nonlocal asked
        if asked:
            await never.wait()
        asked = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent, status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            sent += len(message.get("body", b""))
            if digest is not None:
                digest.write(message.get("body", b""))

    await app(scope, receive, send)
    assert status == 200, status
    return sent, digest.getvalue() if digest is not None else b""


async def measure(url: str, spans: tuple[int, ...]) -> dict[str, Any]:
    owner_id, team_id, members = await seed(url, random.Random(13), spans)
    settings = Settings(database_url=url, secret_key=secrets.token_hex(32), scheduler="off")
    engine = create_engine(url)
    app = create_app(settings, create_sessionmaker(engine))
    token = tokens.encode_access_token(settings, owner_id)
    results: dict[str, Any] = {}
    try:
        for years, m in members.items():
            path = f"/teams/{team_id}/members/{m}/export"
            await export_once(app, path, token)  # warm-up
            timings = []
            for _ in range(RUNS):
                began = time.perf_counter()
                size, _ = await export_once(app, path, token)
                timings.append(time.perf_counter() - began)
            tracemalloc.start()
            tracemalloc.reset_peak()
            await export_once(app, path, token)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            os.environ["_KEEP"] = "1"
            _, archive = await export_once(app, path, token)
            del os.environ["_KEEP"]
            rows = {}
            with zipfile.ZipFile(io.BytesIO(archive)) as opened:
                for name in opened.namelist():
                    if name.endswith(".csv"):
                        rows[name.split("/")[-1]] = opened.read(name).count(b"\n") - 1
            results[f"{years}y"] = {
                "zip_bytes": size,
                "seconds_median": sorted(timings)[len(timings) // 2],
                "tracemalloc_peak_mib": round(peak / 2**20, 2),
                "rows": rows,
            }
            log(f"{years} year(s): {results[f'{years}y']}")
    finally:
        await engine.dispose()
    return results


def print_table(results: dict[str, Any], backend: str) -> None:
    print(f"export of one member through the app ({backend}), median of {RUNS}")
    columns = f"{'data':>6} {'zip MiB':>9} {'seconds':>8} {'peak MiB':>9}"
    print(f"{columns}  rows (wellness, srpe, acwr, hrv)")
    for label, r in results.items():
        counts = r["rows"]
        print(
            f"{label:>6} {r['zip_bytes'] / 2**20:>9.2f} {r['seconds_median']:>8.2f} "
            f"{r['tracemalloc_peak_mib']:>9.2f}  {counts.get('wellness.csv')}, "
            f"{counts.get('srpe.csv')}, {counts.get('acwr.csv')}, {counts.get('hrv.csv')}"
        )
    labels = list(results)
    one, most = results[labels[0]], results[labels[-1]]
    ratio = most["tracemalloc_peak_mib"] / max(one["tracemalloc_peak_mib"], 1e-9)
    print(
        f"peak {labels[-1]} / {labels[0]}: {ratio:.2f} "
        f"(archive {most['zip_bytes'] / one['zip_bytes']:.2f}x)"
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.sqlite:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            await migrate(url)
            return await measure(url, tuple(args.years))
    admin_url = os.environ.get("LOADLINE_BENCH_PG_URL", DEFAULT_ADMIN_URL)
    name, url = await create_database(admin_url)
    try:
        await migrate(url)
        return await measure(url, tuple(args.years))
    finally:
        await drop_database(admin_url, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file")
    parser.add_argument(
        "--years", type=int, nargs="+", default=list(YEARS), help="years of data per player"
    )
    args = parser.parse_args()
    results = asyncio.run(run(args))
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    print_table(results, backend)
    RESULTS.parent.mkdir(exist_ok=True)
    report = {"backend": backend, "when": date.today().isoformat(), "results": results}
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
