"""A throwaway PostgreSQL database for the benchmark, filled fast with ``COPY``.

The benchmark needs millions of daily loads; going through the API or the ORM would take
longer than everything it measures, so rows go straight in with asyncpg's
``copy_records_to_table``. The shape follows the real schema exactly (every per-athlete row
carries ``team_id``), so the engine reads what production would hold.
"""

from __future__ import annotations

import contextlib
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

WEEK_PLAN = np.array([500, 700, 0, 600, 300, 850, 0], dtype=np.float64)
"""Planned load (AU) Monday to Sunday: two rest days, a Saturday match."""

LOAD_MIN, LOAD_MAX = 200, 900
ABSENCE_RATE = 0.04
DOUBLE_SESSION_RATE = 0.10
MISSING_SRPE_RATE = 0.05

DAILY_LOAD_COLUMNS = (
    "team_id",
    "membership_id",
    "date",
    "internal_load_au",
    "external_load_pl",
    "attended_sessions",
    "rated_sessions",
)


@dataclass(frozen=True)
class Scale:
    """How big the seeded world is."""

    teams: int = 250
    players_per_team: int = 40
    days: int = 365

    @property
    def athletes(self) -> int:
        """Players only; the coach of each team is a member too but has no loads."""
        return self.teams * self.players_per_team


@dataclass(frozen=True)
class World:
    """What the scenarios need to know about the seeded data, by id."""

    scale: Scale
    today: date
    team_ids: list[int]
    player_team: dict[int, int]
    """Player membership id -> team id."""
    coach_user: dict[int, int]
    """Team id -> user id of a COACH member, who may read every player's data."""

    @property
    def first_day(self) -> date:
        """The first seeded day, so that the last one is today."""
        return self.today - timedelta(days=self.scale.days - 1)


def log(message: str) -> None:
    """Progress goes to stderr so the results on stdout stay clean."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def create_database(admin_url: str) -> tuple[str, str]:
    """Create ``loadline_bench_<random>``; return its name and URL."""
    name = f"loadline_bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return name, url


async def drop_database(admin_url: str, name: str) -> None:
    """Drop the benchmark's database, even with connections still open (``FORCE``)."""
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def _copy(
    engine: AsyncEngine, table: str, columns: Sequence[str], records: list[Any]
) -> None:
    """One ``COPY`` in its own transaction, through the raw asyncpg connection."""
    async with engine.begin() as connection:
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table, records=records, columns=list(columns)
        )


@contextlib.asynccontextmanager
async def _foreign_keys_deferred(engine: AsyncEngine, table: str) -> AsyncIterator[None]:
    """Drop the table's foreign keys for a bulk load and add them back (validated) after.

    Row-by-row foreign-key checks would triple the seeding time; one validation pass at the
    end checks the same thing. The definitions are read from the catalogue, so whatever the
    migrations declare is restored exactly.
    """
    async with engine.begin() as connection:
        keys = (
            await connection.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE conrelid = CAST(:table AS regclass) AND contype = 'f'"
                ),
                {"table": table},
            )
        ).all()
        for name, _ in keys:
            await connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    try:
        yield
    finally:
        async with engine.begin() as connection:
            for name, definition in keys:
                await connection.execute(
                    text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                )


async def _reset_sequences(engine: AsyncEngine, tables: Sequence[str]) -> None:
    """Explicit ids were copied in; move each serial past them so later inserts work."""
    async with engine.begin() as connection:
        for table in tables:
            await connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - our own table names
                    f"(SELECT max(id) FROM {table}))"
                )
            )


def _people(scale: Scale) -> tuple[list[Any], list[Any], list[Any], World]:
    """Users, teams and memberships: per team one coach (ids 1..teams) and its players."""
    teams, users, members = [], [], []
    player_team: dict[int, int] = {}
    coach_user: dict[int, int] = {}
    for team_id in range(1, scale.teams + 1):
        teams.append((team_id, f"Bench XV {team_id}", "UTC", "williams", 7, 28, 0.8, 1.3, 1.4))
        users.append((team_id, f"coach{team_id}@bench.invalid", f"Coach {team_id}", False))
        members.append((team_id, team_id, team_id, "COACH", True, None))
        coach_user[team_id] = team_id
    next_id = scale.teams + 1
    for team_id in range(1, scale.teams + 1):
        for jersey in range(1, scale.players_per_team + 1):
            users.append((next_id, f"p{next_id}@bench.invalid", f"Player {next_id}", False))
            members.append((next_id, team_id, next_id, "PLAYER", True, jersey))
            player_team[next_id] = team_id
            next_id += 1
    today = date.today()
    world = World(scale, today, list(range(1, scale.teams + 1)), player_team, coach_user)
    return teams, users, members, world


def daily_loads(
    rng: np.random.Generator, athletes: int, days: int, first_day: date
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Believable loads, attended and rated sessions, each shaped ``(athletes, days)``.

    A weekly plan with two rest days (0 AU), training days of 200-900 AU scattered around
    the plan, some double sessions, some absences (0 AU), and now and then a session
    attended without an sRPE, which lowers coverage and the day's load as in real data.
    """
    weekday = (first_day.weekday() + np.arange(days)) % 7
    planned = WEEK_PLAN[weekday][np.newaxis, :]
    training = planned > 0
    double = training & (rng.random((athletes, days)) < DOUBLE_SESSION_RATE)
    present = training & (rng.random((athletes, days)) >= ABSENCE_RATE)
    attended = np.where(present, 1 + double, 0).astype(np.int64)
    missing = present & (rng.random((athletes, days)) < MISSING_SRPE_RATE)
    rated = np.where(missing, attended - 1, attended)
    raw = planned * rng.uniform(0.7, 1.3, (athletes, days)) * np.where(double, 1.3, 1.0)
    load = np.clip(np.rint(raw), LOAD_MIN, LOAD_MAX)
    load = np.where(attended > 0, np.rint(load * rated / np.maximum(attended, 1)), 0)
    return load.astype(np.int64), attended, rated


def _load_records(
    world: World, member_ids: list[int], rng: np.random.Generator
) -> list[tuple[Any, ...]]:
    """``daily_loads`` rows for these players, one per day of the seeded year."""
    days = world.scale.days
    load, attended, rated = daily_loads(rng, len(member_ids), days, world.first_day)
    dates = [world.first_day + timedelta(days=j) for j in range(days)]
    teams = np.repeat([world.player_team[m] for m in member_ids], days).tolist()
    members = np.repeat(member_ids, days).tolist()
    return list(
        zip(
            teams,
            members,
            dates * len(member_ids),
            load.ravel().tolist(),
            [0.0] * (days * len(member_ids)),
            attended.ravel().tolist(),
            rated.ravel().tolist(),
            strict=True,
        )
    )


async def seed(engine: AsyncEngine, scale: Scale, rng: np.random.Generator) -> World:
    """Fill the migrated database: people first, then a year of daily loads in chunks."""
    teams, users, members, world = _people(scale)
    await _copy(
        engine,
        "teams",
        (
            "id",
            "name",
            "timezone",
            "acwr_method",
            "acwr_acute_days",
            "acwr_chronic_days",
            "acwr_low",
            "acwr_high",
            "acwr_danger",
        ),
        teams,
    )
    await _copy(engine, "users", ("id", "email", "full_name", "is_admin"), users)
    await _copy(
        engine,
        "team_memberships",
        ("id", "team_id", "user_id", "role", "active", "jersey_number"),
        members,
    )
    await _reset_sequences(engine, ("teams", "users", "team_memberships"))
    players = sorted(world.player_team)
    chunk = 1000
    async with _foreign_keys_deferred(engine, "daily_loads"):
        for start in range(0, len(players), chunk):
            records = _load_records(world, players[start : start + chunk], rng)
            await _copy(engine, "daily_loads", DAILY_LOAD_COLUMNS, records)
            done = min(start + chunk, len(players))
            log(f"seed: daily loads for {done}/{len(players)} athletes")
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))
    return world
