"""The migrated schema must equal the models, on SQLite and PostgreSQL alike."""

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

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
