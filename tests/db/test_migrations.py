"""The migrated schema must equal the models, on SQLite and PostgreSQL alike."""

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_engine, migrate
from app.models import Base


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        diff = await connection.run_sync(_diff)
    assert diff == []


async def test_every_daily_growing_table_carries_team_id(engine: AsyncEngine) -> None:
    """So PostgreSQL can later be sharded by team without a rewrite."""
    async with engine.connect() as connection:
        columns = await connection.run_sync(
            lambda c: {
                t: {col["name"] for col in inspect(c).get_columns(t)}
                for t in ("session_rpe", "daily_loads", "wellness_logs", "attendance")
            }
        )
    assert all("team_id" in cols for cols in columns.values()), columns


async def test_upgrade_backfills_session_counts_and_marks_acwr(empty_database_url: str) -> None:
    """Data recorded before migration 0002 gets its attendance counts, and ACWR is due."""
    await migrate(empty_database_url, "0001")
    engine = create_engine(empty_database_url)
    statements = [
        "INSERT INTO users (id, email, full_name, is_admin, created_at) "
        "VALUES (1, 'p@example.com', 'P', false, '2026-01-01')",
        "INSERT INTO teams (id, name, timezone, acwr_method, acwr_acute_days, acwr_chronic_days, "
        "acwr_low, acwr_high, acwr_danger, created_at) "
        "VALUES (1, 'T', 'UTC', 'williams', 7, 28, 0.8, 1.3, 1.4, '2026-01-01')",
        "INSERT INTO team_memberships (id, team_id, user_id, role, active, created_at) "
        "VALUES (1, 1, 1, 'PLAYER', true, '2026-01-01')",
        *(
            'INSERT INTO training_sessions (id, team_id, session_type, title, start, "end", day, '  # noqa: S608
            f"created_at) VALUES ({i}, 1, 'TECHNICAL', 'S', '2026-03-0{i} 10:00:00+00', "
            f"'2026-03-0{i} 11:00:00+00', '2026-03-0{i}', '2026-01-01')"
            for i in (1, 2, 3)
        ),
        # Day 1: attended and rated. Day 2: attended, no sRPE. Day 3: rated, no attendance row.
        "INSERT INTO attendance (team_id, session_id, membership_id, status, minutes_participated) "
        "VALUES (1, 1, 1, 'PRESENT', 60), (1, 2, 1, 'LATE', 50)",
        "INSERT INTO session_rpe (team_id, session_id, membership_id, rpe_0_10, duration_min, "
        "load_au, created_at, updated_at) VALUES "
        "(1, 1, 1, 5, 60, 300, '2026-01-01', '2026-01-01'), "
        "(1, 3, 1, 4, 60, 240, '2026-01-01', '2026-01-01')",
        "INSERT INTO daily_loads (team_id, membership_id, date, internal_load_au, "
        "external_load_pl) VALUES (1, 1, '2026-03-01', 300, 0), (1, 1, '2026-03-03', 240, 0)",
    ]
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))
    await engine.dispose()

    await migrate(empty_database_url)

    engine = create_engine(empty_database_url)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT date, internal_load_au, attended_sessions, rated_sessions "
                    "FROM daily_loads ORDER BY date"
                )
            )
        ).all()
        dirty = (await connection.execute(text("SELECT source, dirty_from FROM acwr_state"))).all()
    await engine.dispose()
    assert [(str(d), load, a, r) for d, load, a, r in rows] == [
        ("2026-03-01", 300, 1, 1),
        ("2026-03-02", 0, 1, 0),
        ("2026-03-03", 240, 1, 1),
    ]
    assert [(s, str(d)) for s, d in dirty] == [("INTERNAL", "2026-03-01")]
