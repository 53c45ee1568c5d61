"""Exit 0 when the test PostgreSQL server answers, 1 otherwise (used by ``make test``)."""

import asyncio
import os
import sys

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from sqlalchemy.engine import make_url


async def _ping(url: str) -> bool:
    parsed = make_url(url)
    try:
        conn = await asyncpg.connect(
            host=parsed.host,
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            database=parsed.database or "postgres",
            timeout=3,
        )
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


if __name__ == "__main__":
    url = os.environ.get("LOADLINE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    sys.exit(0 if asyncio.run(_ping(url)) else 1)
