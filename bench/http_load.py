"""HTTP load benchmark of one API process on PostgreSQL: ``python -m bench.http_load``.

The other benchmarks call the app in process; this one measures the service as it is
deployed: one ``loadline serve`` process (uvicorn, one worker, ``LOADLINE_SCHEDULER=off``)
driven over loopback by concurrent keep-alive clients. It creates its own database
(``loadline_bench_<random>`` on ``LOADLINE_BENCH_PG_URL``), migrates it, seeds it, starts the
server, waits for ``/readyz``, runs five phases, stops the server and drops the database,
also when a step fails.

Seed: 17 teams of 25 players with 120 days of daily loads (:func:`bench.seed.seed`, COPY).
Team 1 is the coach's team: sessions five days a week with attendance and sRPE, wellness
most mornings (every player today), HRV and alerts, as in :mod:`bench.coach_bench`. Teams
2 to 17 (one per client, ``--concurrency``) belong to the write clients, with a few past
sessions each. ACWR is
computed for everyone with a full refresh, so reads find stored snapshots.

Phases, each a fixed number of requests spread evenly over a fixed number of clients
(``--concurrency``, 16), after a warm-up of a few requests per client:

* ``healthz``: ``GET /healthz``, no authentication and no database: the floor that the
  server, the framework and the middlewares cost on their own (no target);
* ``srpe``: ``POST /performance/sessions/{id}/srpe``, each client as its own team's
  players, writing distinct (session, member) pairs that no other client touches, so
  writers never wait for each other's locks;
* ``wellness``: ``POST /performance/wellness``, distinct (member, day) pairs per client;
* ``acwr``: ``GET /performance/members/{id}/acwr`` over 120 days for team 1's players,
  as their coach;
* ``roster``: ``GET /teams/1/roster`` (25 players), as the coach.

Per phase: requests/second (requests over the phase's wall time), p50 and p99 latency,
errors (any answer that is not 2xx, or a broken connection; the first few are printed),
the server's CPU time per request, the client's CPU time per request, and the server's
resident memory (``VmHWM`` is the peak, ``VmRSS`` the current, from
``/proc/<pid>/status``). ``srv core`` is the share of one core the server got during
the phase and ``/s per core`` is 1000 / its CPU ms per request: the rate the process
could reach with a whole core to itself, the figure to read on a busy machine where
other processes take CPU from it. A table goes to stdout, progress to stderr, everything to
``bench/results/http_load.json``.

**The client.** A 2-core machine runs the server, PostgreSQL and the client, so the
client must cost little per request. Measured against ``GET /healthz`` of ``loadline
serve`` with 16 concurrent requests (load average 4-7): one ``httpx.AsyncClient`` managed
145 requests/s and spent about 1.9 ms of CPU per request (its connection pool and
h11 parsing are pure Python), more than the server spends on most requests: httpx would
measure itself. aiohttp is not a dependency, and several client processes would still
pay that CPU. The client here is raw HTTP/1.1 over asyncio streams (uvloop when
installed), one keep-alive connection per simulated client, with every request's bytes
built before the phase starts; per request it writes one buffer and parses the status
line, ``Content-Length`` (or chunks) and the body. Against the same endpoint it did
1,450-1,850 requests/s at 36-47 us of client CPU per request, and on a quieter machine
the ``healthz`` phase reaches 5,000-6,500 requests/s with 44-48 us of client CPU per
request (about 0.1 ms for the API phases, whose answers are larger). Each phase reports
the client's CPU per request so this can be checked. It only speaks the HTTP this server
answers with (no TLS, no redirects).

Options: ``--quick`` for a smoke run (few requests); ``--server uvicorn`` to run plain
``uvicorn app.main:app`` instead of ``loadline serve`` (with ``--loop``/``--http``);
``--server-log-level INFO`` keeps the per-request JSON log line (default WARNING, so
logging is not what is measured; the line goes to ``bench/results/http_load_server.log``);
``--py-spy`` records a py-spy profile of the server during each phase
(``bench/results/http_load_<phase>.txt``, collapsed stacks for speedscope or
``flamegraph.pl``; py-spy must be installed in the venv).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import create_engine, create_sessionmaker, migrate
from app.models import LoadSource, SessionType, Team, TrainingSession
from app.services.accounts import tokens
from app.services.acwr import engine as acwr_engine
from bench.coach_bench import seed_alerts, seed_mornings, seed_sessions
from bench.seed import Scale, World, create_database, drop_database, log, seed

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
RESULTS = RESULTS_DIR / "http_load.json"
SERVER_LOG = RESULTS_DIR / "http_load_server.log"
HOST = "127.0.0.1"

PLAYERS = 25
DAYS = 120
PHASES = ("healthz", "srpe", "wellness", "acwr", "roster")

TARGETS: dict[str, dict[str, float]] = {
    "healthz": {"errors": 0},
    "srpe": {"rps": 800.0, "p99_ms": 50.0, "errors": 0},
    "wellness": {"errors": 0},
    "acwr": {"rps": 1500.0, "errors": 0},
    "roster": {"rps": 800.0, "errors": 0},
}
"""Issue 6, on a 2-core machine with one API process."""
TARGET_RSS_MB = 200.0

FULL_REQUESTS = {"healthz": 3000, "srpe": 3000, "wellness": 3000, "acwr": 3000, "roster": 1000}
QUICK_REQUESTS = {"healthz": 160, "srpe": 160, "wellness": 160, "acwr": 160, "roster": 48}
WARMUP_PER_CLIENT = 3
MAX_ERRORS_SHOWN = 5


# -- a minimal HTTP/1.1 keep-alive client --------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; requests are pre-built bytes."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Write one request, read one response: (status, body)."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length: int | None = None
        chunked = close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")  # no trailers are expected
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        elif length is not None:
            body = await self.reader.readexactly(length)
        else:
            body = await self.reader.read()
            close = True
        if close:
            await self.close()
        return status, body


def build_request(
    method: str, path: str, token: str | None = None, payload: dict[str, Any] | None = None
) -> bytes:
    """The exact bytes of one request, built before the phase so the client stays cheap."""
    body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "User-Agent: loadline-bench"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    if payload is not None:
        lines.append("Content-Type: application/json")
    if method != "GET" or body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# -- the server process ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def proc_status(pid: int) -> dict[str, float]:
    """Resident memory of ``pid`` in MB: ``VmHWM`` (peak) and ``VmRSS`` (now)."""
    values: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0]) / 1024
    return values


def proc_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_pressure() -> float | None:
    """``some avg10`` of ``/proc/pressure/cpu``: the share of time a task waited for a CPU."""
    try:
        first = Path("/proc/pressure/cpu").read_text().split("\n")[0]
    except OSError:
        return None
    return float(first.split("avg10=")[1].split()[0])


def loaded_modules(pid: int) -> dict[str, bool]:
    """Whether the server really runs uvloop and httptools (their C extensions are mapped)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {"uvloop": "/uvloop/" in maps, "httptools": "/httptools/" in maps}


@dataclass
class Server:
    command: list[str]
    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes] | None = None
    log_file: Any = None

    def start(self) -> None:
        self.log_file = SERVER_LOG.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            self.command, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def wait_ready(self, limit_s: float = 60.0) -> float:
        """Poll ``/readyz`` until it answers 200; the seconds it took."""
        began = time.perf_counter()
        request = build_request("GET", "/readyz")
        while time.perf_counter() - began < limit_s:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}): {self.tail()}")
            connection = Connection(HOST, self.port)
            try:
                status, _ = await connection.send(request)
                if status == 200:
                    return time.perf_counter() - began
            except OSError:
                pass
            finally:
                await connection.close()
            await asyncio.sleep(0.2)
        raise RuntimeError(f"/readyz did not answer 200 within {limit_s:.0f} s: {self.tail()}")

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return SERVER_LOG.read_text(errors="replace")[-2000:]
        return ""

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log_file is not None:
            self.log_file.close()
        return self.process.returncode


def server_command(args: argparse.Namespace, port: int) -> list[str]:
    if args.server == "loadline":
        # The production entry point; it chooses uvicorn's loop and parser itself ("auto").
        script = Path(sys.executable).parent / "loadline"
        return [str(script), "serve", "--host", HOST, "--port", str(port)]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        args.server_log_level.lower(),
        "--loop",
        args.loop,
        "--http",
        args.http,
    ]


# -- seeding ----------------------------------------------------------------------------------


@dataclass
class Plan:
    """Who does what: tokens and ids the phases' requests are built from."""

    world: World
    settings: Settings
    read_team: int
    read_players: list[int]
    write_teams: list[int]
    team_players: dict[int, list[int]]
    team_sessions: dict[int, list[int]] = field(default_factory=dict)

    def token(self, user_id: int) -> str:
        return tokens.encode_access_token(self.settings, user_id)


async def add_write_sessions(session: AsyncSession, plan: Plan, per_team: int) -> None:
    """``per_team`` past sessions for every write team, one a day, ending yesterday."""
    today = plan.world.today
    for team_id in plan.write_teams:
        rows = []
        for k in range(per_team):
            day = today - timedelta(days=1 + k)
            start = datetime.combine(day, clock(10, 0), tzinfo=UTC)
            rows.append(
                {
                    "team_id": team_id,
                    "session_type": SessionType.TECHNICAL,
                    "title": f"Bench session {day.isoformat()}",
                    "start": start,
                    "end": start + timedelta(minutes=75),
                    "day": day,
                }
            )
        ids = await session.scalars(
            insert(TrainingSession).returning(TrainingSession.id, sort_by_parameter_order=True),
            rows,
        )
        plan.team_sessions[team_id] = list(ids)


async def build(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clients: int,
    sessions_per_team: int,
    rng_seed: int,
) -> tuple[Plan, dict[str, Any]]:
    began = time.perf_counter()
    world = await seed(
        engine,
        Scale(teams=1 + clients, players_per_team=PLAYERS, days=DAYS),
        np.random.default_rng(rng_seed),
    )
    team_players: dict[int, list[int]] = {}
    for member, team in world.player_team.items():
        team_players.setdefault(team, []).append(member)
    for members in team_players.values():
        members.sort()
    read_team = world.team_ids[0]
    plan = Plan(
        world=world,
        settings=settings,
        read_team=read_team,
        read_players=team_players[read_team],
        write_teams=world.team_ids[1:],
        team_players=team_players,
    )
    rng = random.Random(rng_seed)
    counts: dict[str, Any] = {"teams": len(world.team_ids), "players": len(world.player_team)}
    async with sessionmaker.begin() as session:
        counts |= await seed_sessions(session, read_team, plan.read_players, world, rng)
        counts |= await seed_mornings(session, read_team, plan.read_players, world, rng)
        counts |= await seed_alerts(session, read_team, plan.read_players, world, rng)
        await add_write_sessions(session, plan, sessions_per_team)
    counts["write_sessions"] = sessions_per_team * len(plan.write_teams)
    async with sessionmaker.begin() as session:
        teams = list(await session.scalars(select(Team)))
        counts["acwr_athlete_days"] = await acwr_engine.refresh(
            session, teams, LoadSource.INTERNAL, full=True
        )
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))
    counts["seed_s"] = round(time.perf_counter() - began, 1)
    log(f"seeded in {counts['seed_s']} s: {counts}")
    return plan, counts


# -- the phases' requests -------------------------------------------------------------------


def split(total: int, clients: int) -> list[int]:
    """``total`` requests over ``clients``, as evenly as possible."""
    return [total // clients + (1 if c < total % clients else 0) for c in range(clients)]


def srpe_requests(plan: Plan, counts: list[int], warmup: int) -> list[list[bytes]]:
    """Per client: its own team's players writing distinct (session, member) pairs."""
    rng = random.Random(1)
    per_client = []
    for client, count in enumerate(counts):
        team = plan.write_teams[client]
        players = plan.team_players[team]
        tokens_ = {m: plan.token(m) for m in players}  # a player's user id is its membership id
        pairs = [(s, m) for s in plan.team_sessions[team] for m in players]
        if warmup + count > len(pairs):
            raise ValueError(f"{warmup + count} sRPE writes need more than {len(pairs)} pairs")
        requests = []
        for session_id, member in pairs[: warmup + count]:
            payload: dict[str, Any] = {
                "membership_id": member,
                "rpe_0_10": rng.randint(4, 18) / 2,
            }
            if rng.random() < 0.5:
                payload["duration_min"] = rng.choice((45, 60, 75, 90))
            requests.append(
                build_request(
                    "POST", f"/performance/sessions/{session_id}/srpe", tokens_[member], payload
                )
            )
        per_client.append(requests)
    return per_client


def wellness_requests(plan: Plan, counts: list[int], warmup: int) -> list[list[bytes]]:
    """Per client: its own team's players, distinct (member, day) pairs in the past."""
    rng = random.Random(2)
    per_client = []
    for client, count in enumerate(counts):
        players = plan.team_players[plan.write_teams[client]]
        tokens_ = {m: plan.token(m) for m in players}
        pairs = [(d, m) for d in range(1, DAYS) for m in players]
        if warmup + count > len(pairs):
            raise ValueError(f"{warmup + count} wellness writes need more than {len(pairs)}")
        requests = []
        for days_back, member in pairs[: warmup + count]:
            day = plan.world.today - timedelta(days=days_back)
            payload = {
                "membership_id": member,
                "date": day.isoformat(),
                "sleep_quality": rng.randint(2, 5),
                "mood": rng.randint(2, 5),
                "soreness": rng.randint(2, 5),
                "stress": rng.randint(2, 5),
                "fatigue": rng.randint(2, 5),
            }
            requests.append(
                build_request("POST", "/performance/wellness", tokens_[member], payload)
            )
        per_client.append(requests)
    return per_client


def acwr_requests(plan: Plan, counts: list[int], warmup: int) -> list[list[bytes]]:
    """The coach reads random players' ACWR over the seeded 120 days."""
    rng = random.Random(3)
    token = plan.token(plan.world.coach_user[plan.read_team])
    first = plan.world.first_day.isoformat()
    last = plan.world.today.isoformat()
    return [
        [
            build_request(
                "GET",
                f"/performance/members/{rng.choice(plan.read_players)}/acwr?from={first}&to={last}",
                token,
            )
            for _ in range(warmup + count)
        ]
        for count in counts
    ]


def healthz_requests(plan: Plan, counts: list[int], warmup: int) -> list[list[bytes]]:
    """The floor: no authentication, no database, the same middlewares and server."""
    request = build_request("GET", "/healthz")
    return [[request] * (warmup + count) for count in counts]


def roster_requests(plan: Plan, counts: list[int], warmup: int) -> list[list[bytes]]:
    token = plan.token(plan.world.coach_user[plan.read_team])
    request = build_request("GET", f"/teams/{plan.read_team}/roster", token)
    return [[request] * (warmup + count) for count in counts]


BUILDERS = {
    "healthz": healthz_requests,
    "srpe": srpe_requests,
    "wellness": wellness_requests,
    "acwr": acwr_requests,
    "roster": roster_requests,
}


# -- running a phase ----------------------------------------------------------------------------


@dataclass
class Tally:
    total: int
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    done: int = 0
    first_errors: list[str] = field(default_factory=list)

    def error(self, description: str) -> None:
        self.errors += 1
        if len(self.first_errors) < MAX_ERRORS_SHOWN:
            self.first_errors.append(description)


def _describe(request: bytes) -> str:
    return request.split(b" HTTP/1.1", 1)[0].decode()


async def client_loop(
    connection: Connection, requests: Sequence[bytes], tally: Tally | None
) -> None:
    """Send the requests one after another on one connection."""
    for request in requests:
        began = time.perf_counter()
        try:
            status, body = await connection.send(request)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            await connection.close()
            if tally is not None:
                tally.done += 1
                tally.error(f"{_describe(request)}: {type(exc).__name__}: {exc}")
            continue
        elapsed = 1000 * (time.perf_counter() - began)
        if tally is None:
            continue
        tally.done += 1
        tally.latencies_ms.append(elapsed)
        tally.statuses[status] += 1
        if not 200 <= status < 300:
            tally.error(f"{_describe(request)} -> {status} {body[:200].decode(errors='replace')}")


async def progress(name: str, tally: Tally, began: float, every: float = 2.0) -> None:
    """A line on stderr every ``every`` seconds while the phase runs."""
    last_done, last_time = 0, began
    while True:
        await asyncio.sleep(every)
        now = time.perf_counter()
        done = tally.done
        rate = (done - last_done) / (now - last_time)
        log(
            f"{name}: {done}/{tally.total} requests, {rate:.0f}/s now, "
            f"{tally.errors} errors, {now - began:.0f} s"
        )
        last_done, last_time = done, now


def start_py_spy(pid: int, name: str) -> subprocess.Popen[bytes] | None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        log("py-spy not found (pip install py-spy): no profile")
        return None
    out = RESULTS_DIR / f"http_load_{name}.txt"
    return subprocess.Popen(  # noqa: S603 - our own command line
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--nonblocking",
            "--rate",
            "250",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_py_spy(profiler: subprocess.Popen[bytes] | None, name: str) -> None:
    if profiler is None:
        return
    profiler.send_signal(signal.SIGINT)
    try:
        profiler.wait(30)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait()
    raw = RESULTS_DIR / f"http_load_{name}.txt"
    if raw.exists():
        log(f"{name}: py-spy profile in {raw}")


async def run_phase(
    name: str,
    server: Server,
    per_client: list[list[bytes]],
    warmup: int,
    profile: bool,
) -> dict[str, Any]:
    connections = [Connection(HOST, server.port) for _ in per_client]
    for connection in connections:
        await connection.open()
    warm = Tally(total=0)
    await asyncio.gather(
        *(client_loop(c, r[:warmup], warm) for c, r in zip(connections, per_client, strict=True))
    )
    timed = [r[warmup:] for r in per_client]
    tally = Tally(total=sum(len(r) for r in timed))
    log(
        f"{name}: {tally.total} requests from {len(per_client)} clients "
        f"(after {warmup * len(per_client)} for warm-up)"
    )
    profiler = start_py_spy(server.pid, name) if profile else None
    if profiler is not None:
        await asyncio.sleep(0.5)  # let py-spy attach
    load_before = os.getloadavg()
    pressure_before = cpu_pressure()
    server_cpu = proc_cpu_seconds(server.pid)
    client_cpu = time.process_time()
    began = time.perf_counter()
    ticker = asyncio.create_task(progress(name, tally, began))
    try:
        await asyncio.gather(
            *(client_loop(c, r, tally) for c, r in zip(connections, timed, strict=True))
        )
    finally:
        ticker.cancel()
    wall = time.perf_counter() - began
    client_cpu = time.process_time() - client_cpu
    server_cpu = proc_cpu_seconds(server.pid) - server_cpu
    stop_py_spy(profiler, name)
    for connection in connections:
        await connection.close()
    latencies = np.array(tally.latencies_ms) if tally.latencies_ms else np.array([math.nan])
    result = {
        "requests": tally.total,
        "clients": len(per_client),
        "wall_s": round(wall, 3),
        "rps": round(tally.total / wall, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "max_ms": round(float(np.max(latencies)), 2),
        "errors": tally.errors,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "first_errors": tally.first_errors,
        "warmup_errors": warm.errors,
        "warmup_first_errors": warm.first_errors,
        "server_cpu_ms_per_request": round(1000 * server_cpu / tally.total, 3),
        "server_cpu_share": round(server_cpu / wall, 3),
        "client_cpu_ms_per_request": round(1000 * client_cpu / tally.total, 3),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "cpu_pressure_before": pressure_before,
        "cpu_pressure_after": cpu_pressure(),
        "memory_mb": proc_status(server.pid),
    }
    log(
        f"{name}: {result['rps']:.0f}/s, p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, {tally.errors} errors, "
        f"server CPU {result['server_cpu_ms_per_request']:.2f} ms/request "
        f"({100 * result['server_cpu_share']:.0f} % of a core), "
        f"RSS {result['memory_mb']['VmRSS']:.0f} MB (peak {result['memory_mb']['VmHWM']:.0f})"
    )
    for line in tally.first_errors + warm.first_errors:
        log(f"{name} error: {line}")
    return result


# -- the run ------------------------------------------------------------------------------------


def app_fingerprint() -> str:
    """A hash of the app's source as the server loads it (others may be editing it)."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent / "app"
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def git_describe() -> str:
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


async def run(args: argparse.Namespace, admin_url: str) -> dict[str, Any]:
    requests = dict(QUICK_REQUESTS if args.quick else FULL_REQUESTS)
    for phase in PHASES:
        override = getattr(args, f"{phase}_requests")
        if override is not None:
            requests[phase] = override
    clients = args.concurrency
    phases = [p for p in PHASES if p in args.phases]
    srpe_per_client = max(split(requests["srpe"], clients)) + WARMUP_PER_CLIENT
    sessions_per_team = math.ceil(srpe_per_client / PLAYERS)
    secret = secrets.token_urlsafe(32)
    name, url = await create_database(admin_url)
    log(f"database {name} created")
    server: Server | None = None
    results: dict[str, Any] = {"requests": requests, "concurrency": clients}
    try:
        await migrate(url)
        engine = create_engine(url)
        try:
            settings = Settings(database_url=url, secret_key=secret, access_token_minutes=240)
            plan, counts = await build(
                engine,
                create_sessionmaker(engine),
                settings,
                clients,
                sessions_per_team,
                args.rng_seed,
            )
            results["data"] = counts
            async with engine.connect() as connection:
                results["postgresql"] = str(await connection.scalar(text("SHOW server_version")))
        finally:
            await engine.dispose()
        port = free_port()
        env = os.environ | {
            "LOADLINE_DATABASE_URL": url,
            "LOADLINE_SECRET_KEY": secret,
            "LOADLINE_SCHEDULER": "off",
            "LOADLINE_LOG_LEVEL": args.server_log_level.upper(),
        }
        server = Server(server_command(args, port), env, port)
        results["server_command"] = " ".join(
            server.command[1:] if args.server == "uvicorn" else ["loadline", *server.command[1:]]
        )
        results["app_fingerprint"] = app_fingerprint()
        results["git"] = git_describe()
        server.start()
        log(f"server pid {server.pid}: {results['server_command']}")
        ready = await server.wait_ready()
        results["server_ready_s"] = round(ready, 2)
        results["server_modules"] = loaded_modules(server.pid)
        results["memory_mb_ready"] = proc_status(server.pid)
        log(
            f"server ready in {ready:.1f} s; {results['server_modules']}; "
            f"RSS {results['memory_mb_ready']['VmRSS']:.0f} MB"
        )
        results["phases"] = {}
        for phase in phases:
            counts_ = split(requests[phase], clients)
            per_client = BUILDERS[phase](plan, counts_, WARMUP_PER_CLIENT)
            results["phases"][phase] = await run_phase(
                phase, server, per_client, WARMUP_PER_CLIENT, args.py_spy
            )
        results["memory_mb_end"] = proc_status(server.pid)
    finally:
        if server is not None:
            code = server.stop()
            log(f"server stopped (exit code {code})")
        for attempt in range(3):
            try:
                await drop_database(admin_url, name)
                log(f"database {name} dropped")
                break
            except Exception as exc:  # the server may be briefly short of resources
                log(f"dropping {name} failed ({type(exc).__name__}: {exc}); attempt {attempt + 1}")
                await asyncio.sleep(2)
        else:
            log(f'database {name} was NOT dropped: DROP DATABASE "{name}" WITH (FORCE)')
    return results


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for phase, figures in results["phases"].items():
        target = TARGETS[phase]
        checks = []
        if "rps" in target:
            checks.append(figures["rps"] >= target["rps"])
        if "p99_ms" in target:
            checks.append(figures["p99_ms"] < target["p99_ms"])
        checks.append(figures["errors"] <= target["errors"])
        parts = [f">= {target['rps']:.0f}/s"] if "rps" in target else []
        if "p99_ms" in target:
            parts.append(f"p99 < {target['p99_ms']:.0f} ms")
        wanted = ", ".join([*parts, "no errors"])
        rows.append({"phase": phase, "target": wanted, "met": all(checks)} | figures)
    peak = results["memory_mb_end"]["VmHWM"]
    rows.append(
        {
            "phase": "memory",
            "target": f"< {TARGET_RSS_MB:.0f} MB",
            "met": peak < TARGET_RSS_MB,
            "peak_mb": peak,
        }
    )
    return rows


def print_table(results: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    header = (
        "phase",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "srv ms/req",
        "srv core",
        "/s per core",
        "RSS MB",
        "peak MB",
        "load",
        "target",
        "",
    )
    lines = [header]
    for row in rows:
        if row["phase"] == "memory":
            continue
        mem = row["memory_mb"]
        lines.append(
            (
                row["phase"],
                str(row["requests"]),
                f"{row['rps']:.0f}",
                f"{row['p50_ms']:.1f}",
                f"{row['p99_ms']:.1f}",
                str(row["errors"]),
                f"{row['server_cpu_ms_per_request']:.2f}",
                f"{100 * row['server_cpu_share']:.0f} %",
                f"{1000 / max(row['server_cpu_ms_per_request'], 1e-9):.0f}",
                f"{mem['VmRSS']:.0f}",
                f"{mem['VmHWM']:.0f}",
                f"{row['loadavg_before'][0]:.1f}",
                row["target"],
                "met" if row["met"] else "MISSED",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    memory = rows[-1]
    print(
        f"server peak resident memory (VmHWM): {memory['peak_mb']:.0f} MB, target "
        f"{memory['target']}: {'met' if memory['met'] else 'MISSED'}; "
        f"at ready {results['memory_mb_ready']['VmRSS']:.0f} MB"
    )
    print(
        f"server: {results['server_command']} ({results['server_modules']}), "
        f"{results['concurrency']} clients, {os.cpu_count()} CPUs"
    )
    for row in rows[:-1]:
        for line in row["first_errors"]:
            print(f"  {row['phase']} error: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--concurrency", type=int, default=16, help="clients (connections)")
    for phase in PHASES:
        parser.add_argument(f"--{phase}-requests", type=int, help=f"requests in the {phase} phase")
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    parser.add_argument("--server", choices=("loadline", "uvicorn"), default="loadline")
    parser.add_argument("--loop", default="auto", help="uvicorn --loop (with --server uvicorn)")
    parser.add_argument("--http", default="auto", help="uvicorn --http (with --server uvicorn)")
    parser.add_argument(
        "--server-log-level",
        default="WARNING",
        help="LOADLINE_LOG_LEVEL of the server (INFO logs every request)",
    )
    parser.add_argument("--py-spy", action="store_true", help="profile the server per phase")
    parser.add_argument("--rng-seed", type=int, default=20261126)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    admin_url = os.environ.get("LOADLINE_BENCH_PG_URL", DEFAULT_ADMIN_URL)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    try:
        import uvloop
    except ImportError:
        results = asyncio.run(run(args, admin_url))
    else:
        results = uvloop.run(run(args, admin_url))
    rows = verdicts(results)
    print_table(results, rows)
    report = {
        "command": "python -m bench.http_load " + " ".join(sys.argv[1:]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git": git_describe(),
        "cpus": os.cpu_count(),
        "targets": TARGETS | {"memory_peak_mb": TARGET_RSS_MB},
        "verdicts": [{k: r[k] for k in ("phase", "target", "met")} for r in rows],
        "results": results,
        "total_seconds": round(time.perf_counter() - began, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    log(f"results written to {args.output}")


if __name__ == "__main__":
    main()
