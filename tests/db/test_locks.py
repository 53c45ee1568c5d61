"""Member-day locks stay few whatever a write spans: PostgreSQL's lock table is shared by
every connection, and a bulk import that filled it would fail everyone else's writes."""

from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import MEMBER_DAY_LOCK_SLOTS, lock_member_days, member_day_slots
from tests.fixtures.databases import BACKEND

A_YEAR = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]


def test_a_year_of_days_maps_to_a_few_sorted_slots() -> None:
    slots = member_day_slots(A_YEAR)
    assert slots == sorted(slots)
    assert len(slots) == MEMBER_DAY_LOCK_SLOTS
    assert member_day_slots([A_YEAR[0], A_YEAR[0]]) == member_day_slots([A_YEAR[0]])


@pytest.mark.skipif(BACKEND != "postgresql", reason="advisory locks are PostgreSQL's")
async def test_a_year_long_write_holds_a_bounded_number_of_locks(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        await lock_member_days(session, team_id=1, membership_id=7, days=A_YEAR)
        held = await session.scalar(
            text(
                "SELECT count(*) FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
        )
        assert held == MEMBER_DAY_LOCK_SLOTS + 1  # the slots and the team's shared lock
