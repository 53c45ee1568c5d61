"""The whole journey through a real PgBouncer in transaction pooling mode.

A ``pgbouncer`` process runs with ``deploy/pgbouncer/pgbouncer.ini`` (only the database, the
listen address and the authentication changed, and two server connections in the pool), in
front of a database of this test's own. The app talks to it with
``LOADLINE_DATABASE_POOLER=pgbouncer``: concurrent requests then share two server
connections, so consecutive transactions of one client land on different ones, and every
commit is real. PostgreSQL only: on SQLite the module is skipped, saying so.
"""

import asyncio
import configparser
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app import scheduler
from app.config import Settings
from app.db import create_engine, create_sessionmaker, migrate
from app.main import create_app
from app.services.acwr import jobs as acwr_jobs
from tests.fixtures.actors import started_at
from tests.fixtures.databases import BACKEND, create_database, drop_database

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="PgBouncer pools PostgreSQL connections: this runs in the PostgreSQL half of the "
    "suite (LOADLINE_TEST_DATABASE=postgresql), not on SQLite",
)

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "pgbouncer" / "pgbouncer.ini"
SERVER_CONNECTIONS = 2
PASSWORD = "correct horse battery"


def _pgbouncer_binary() -> str:
    """The binary, or a failure when CI requires PostgreSQL (``.ci/run`` installs it)."""
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if found:
        return found
    message = "pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)"
    if os.environ.get("LOADLINE_REQUIRE_POSTGRES"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _write_config(folder: Path, direct_url: str, port: int) -> Path:
    """The shipped config with this test's database, port and trust authentication."""
    url = make_url(direct_url)
    config = configparser.ConfigParser(interpolation=None)
    config.read(CONFIG)
    target = f"host={url.host} port={url.port or 5432} dbname={url.database} user={url.username}"
    if url.password:
        target += f" password={url.password}"
    config["databases"] = {str(url.database): target}
    settings = config["pgbouncer"]
    settings.update(
        listen_addr="127.0.0.1",
        listen_port=str(port),
        auth_type="trust",
        auth_file=str(folder / "userlist.txt"),
        default_pool_size=str(SERVER_CONNECTIONS),
        reserve_pool_size="0",
    )
    (folder / "userlist.txt").write_text(f'"{url.username}" ""\n')
    path = folder / "pgbouncer.ini"
    with path.open("w") as file:
        config.write(file)
    for item in (folder, folder / "userlist.txt", path):
        item.chmod(0o755 if item.is_dir() else 0o644)  # read by the unprivileged user
    return path


def _wait_for_port(process: "subprocess.Popen[bytes]", port: int, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pgbouncer exited with {process.returncode}:\n{log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"pgbouncer did not listen on {port} within 10 s:\n{log.read_text()}")


@pytest.fixture(scope="module")
async def direct_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A migrated database of this module's own (migrations talk to PostgreSQL directly)."""
    url = await create_database(tmp_path_factory)
    await migrate(url)
    yield url
    await drop_database(url)


@pytest.fixture(scope="module")
def pgbouncer_url(direct_url: str) -> Iterator[str]:
    """A running pgbouncer in front of ``direct_url``; its URL, stopped after the module.

    PgBouncer refuses to run as root, so under root it switches to ``postgres``.
    """
    binary = _pgbouncer_binary()
    folder = Path(tempfile.mkdtemp(prefix="loadline-pgbouncer-"))
    port = _free_port()
    config = _write_config(folder, direct_url, port)
    command = [binary, str(config)]
    if os.geteuid() == 0:
        user = "postgres" if _user_exists("postgres") else "nobody"
        command[1:1] = ["-u", user]
    log = folder / "pgbouncer.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        _wait_for_port(process, port, log)
        yield (
            make_url(direct_url)
            .set(host="127.0.0.1", port=port)
            .render_as_string(hide_password=False)
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
async def pooled_engine(pgbouncer_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pgbouncer_url, pooler="pgbouncer")
    yield engine
    await engine.dispose()


@pytest.fixture
async def pooled_client(
    pooled_engine: AsyncEngine, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, its sessions committing through PgBouncer."""
    app = create_app(settings, create_sessionmaker(pooled_engine))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _sign_up(client: httpx.AsyncClient, name: str) -> tuple[str, dict[str, str]]:
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    registered = await client.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "full_name": name.title()}
    )
    assert registered.status_code == 201, registered.text
    token = await client.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return email, {"Authorization": f"Bearer {token.json()['access_token']}"}


async def _ok(response: Awaitable[httpx.Response], status: int = 200) -> Any:
    answer: httpx.Response = await response
    assert answer.status_code == status, answer.text
    return answer.json()


async def test_the_journey_commits_through_pgbouncer(
    pooled_client: httpx.AsyncClient, direct_url: str
) -> None:
    client = pooled_client
    _, coach = await _sign_up(client, "coach")
    players = await asyncio.gather(*(_sign_up(client, f"player{n}") for n in range(4)))
    team = await _ok(client.post("/teams", json={"name": "Pooled RFC"}, headers=coach), 201)
    memberships = await asyncio.gather(
        *(
            _ok(
                client.post(
                    f"/teams/{team['id']}/members",
                    json={"email": email, "full_name": "Player", "role": "PLAYER"},
                    headers=coach,
                ),
                201,
            )
            for email, _ in players
        )
    )
    today = datetime.now(UTC).date()
    sessions = []
    for day in (today - timedelta(days=1), today):
        start = started_at(day, hour=9)
        body = {
            "team_id": team["id"],
            "title": "Training",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=60)).isoformat(),
        }
        sessions.append(
            await _ok(client.post("/performance/sessions", json=body, headers=coach), 201)
        )
    attendance = [
        {"membership_id": m["id"], "status": "PRESENT", "minutes_participated": 60}
        for m in memberships
    ]
    await asyncio.gather(
        *(
            _ok(
                client.post(
                    f"/performance/sessions/{s['id']}/attendance", json=attendance, headers=coach
                )
            )
            for s in sessions
        )
    )

    # Eight sRPE writes at once, each player rating both sessions with their own token.
    written = await asyncio.gather(
        *(
            _ok(
                client.post(
                    f"/performance/sessions/{s['id']}/srpe",
                    json={"membership_id": m["id"], "rpe_0_10": 5 + n},
                    headers=headers,
                ),
                201,
            )
            for n, (m, (_, headers)) in enumerate(zip(memberships, players, strict=True))
            for s in sessions
        )
    )
    assert sorted(w["load_au"] for w in written) == sorted([300, 300, 360, 360, 420, 420, 480, 480])
    wellness = {"sleep_quality": 4, "mood": 4, "soreness": 3}
    await asyncio.gather(
        *(
            _ok(
                client.post(
                    "/performance/wellness",
                    json={"membership_id": m["id"], **wellness},
                    headers=headers,
                ),
                201,
            )
            for m, (_, headers) in zip(memberships, players, strict=True)
        )
    )

    window = {"from": str(today - timedelta(days=1)), "to": str(today)}
    loads, acwrs = await asyncio.gather(
        asyncio.gather(
            *(
                _ok(
                    client.get(
                        f"/performance/members/{m['id']}/daily-loads", params=window, headers=coach
                    )
                )
                for m in memberships
            )
        ),
        asyncio.gather(
            *(
                _ok(
                    client.get(f"/performance/members/{m['id']}/acwr", params=window, headers=coach)
                )
                for m in memberships
            )
        ),
    )
    for n, (days, acwr) in enumerate(zip(loads, acwrs, strict=True)):
        assert [d["internal_load_au"] for d in days] == [60 * (5 + n)] * 2
        assert [p["load"] for p in acwr["points"]] == [60 * (5 + n)] * 2
        assert acwr["points"][0]["acute_ewma"] == 60 * (5 + n)
    roster = await _ok(client.get(f"/teams/{team['id']}/roster", headers=coach))
    assert sorted(entry["membership_id"] for entry in roster) == sorted(
        m["id"] for m in memberships
    )

    # Pooling really happened: the app's 20 connections shared two server connections.
    assert 1 <= await _server_connections(direct_url) <= SERVER_CONNECTIONS


async def test_the_jobs_lock_and_run_through_pgbouncer(pooled_engine: AsyncEngine) -> None:
    """The job lock is transaction-level, so PgBouncer keeps it on one server connection for
    the run and nothing outlives it; a second holder is refused meanwhile, not after."""
    async with scheduler.job_lock(pooled_engine, "test.job") as first:
        async with scheduler.job_lock(pooled_engine, "test.job") as second:
            assert (first, second) == (True, False)
        computed = await acwr_jobs.recompute_dirty(create_sessionmaker(pooled_engine))
        assert computed >= 0
    async with scheduler.job_lock(pooled_engine, "test.job") as again:
        assert again
    async with pooled_engine.connect() as connection:
        held = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
    assert held == 0


async def test_a_plain_engine_does_not_survive_transaction_pooling(pgbouncer_url: str) -> None:
    """The control: without the pooler settings asyncpg reuses a statement prepared on
    another server connection, which is why LOADLINE_DATABASE_POOLER exists."""
    engine = create_engine(pgbouncer_url, pooler="none")
    try:
        with pytest.raises(
            Exception, match=r"prepared statement .* (does not exist|already exists)"
        ):
            for _ in range(10):
                await asyncio.gather(*(_two_transactions(engine, n) for n in range(6)))
    finally:
        await engine.dispose()


async def _two_transactions(engine: AsyncEngine, n: int) -> None:
    async with engine.connect() as connection:
        for _ in range(2):
            await connection.scalar(text("SELECT CAST(:n AS integer) + 1"), {"n": n})
            await connection.commit()
            await asyncio.sleep(0)


async def _server_connections(direct_url: str) -> int:
    engine = create_engine(direct_url, pooler="none")
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await engine.dispose()
    return int(count or 0)
