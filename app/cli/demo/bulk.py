"""The demo's bulk inserts: thousands of generated rows in a few statements each."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Base


async def insert_returning(
    db: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Bulk insert and the new ids in the order of ``rows`` (one round trip per batch)."""
    table = model.__table__
    result = await db.execute(
        insert(model).returning(table.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [int(row_id) for row_id in result.scalars()]


async def insert_rows(db: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert in batches, so no single statement grows past a driver's limits."""
    for index in range(0, len(rows), 2000):
        await db.execute(insert(model), list(rows[index : index + 2000]))
