"""``/readyz``: does the database answer, asked over a connection of the probe's own.

An orchestrator or load balancer asks every few seconds and gives up after a few (the
compose healthcheck after 3 s). Borrowing a connection from the request pool made the
probe queue behind the requests it was meant to judge: with every pooled connection busy
it took 7-9 s and the replica was taken out of service for being busy. The probe keeps
one connection of its own (plus one spare, so two probes at once do not queue), and
answers within :data:`TIMEOUT` whatever it is waiting for: a database that does not
answer in time is reported as not ready.
"""

import asyncio

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

TIMEOUT = 1.0  # seconds, for the whole probe: taking a connection and the query
_PING = text("SELECT 1")


class ReadinessProbe:
    """Asks the database through its own engine (``db.create_probe_engine``), or, where
    the app was given a sessionmaker (tests), through that."""

    def __init__(
        self,
        engine: AsyncEngine | None = None,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self._engine = engine
        self._sessionmaker = sessionmaker
        self._timeout = timeout

    async def ready(self) -> bool:
        """True when a ``SELECT 1`` came back within the timeout."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._ping()
        except (SQLAlchemyError, OSError, TimeoutError):
            return False
        return True

    async def _ping(self) -> None:
        if self._engine is not None:
            async with self._engine.connect() as connection:
                await connection.execute(_PING)
        elif self._sessionmaker is not None:
            async with self._sessionmaker() as db:
                await db.execute(_PING)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
