"""The webhook inbox's depth and lag, read from the database for a Prometheus scrape.

The gauges themselves (``INBOX_EVENTS``, ``INBOX_LAG``) are defined with every other
metric in :mod:`app.services.platform.metrics`; :func:`observe` sets them, in a read-only
session of its own, just before the exposition is rendered (``GET /metrics``).
"""

import logging
import math

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import InboxStatus
from app.models.base import utcnow
from app.services.integrations import inbox
from app.services.platform.metrics import INBOX_EVENTS, INBOX_LAG

logger = logging.getLogger("loadline.metrics")


async def observe(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Set the inbox gauges from the database now; NaN ("unknown") when it does not answer,
    so that the process's other metrics stay useful while the database is away."""
    try:
        async with sessionmaker() as db:
            counts = await inbox.depth(db)
            oldest = await inbox.oldest_pending(db)
    except (SQLAlchemyError, OSError):
        logger.warning('{"event": "metrics_inbox_unavailable"}')
        for status in (InboxStatus.PENDING, InboxStatus.FAILED):
            INBOX_EVENTS.labels(status.value).set(math.nan)
        INBOX_LAG.set(math.nan)
        return
    for status, count in counts.items():
        INBOX_EVENTS.labels(status.value).set(count)
    INBOX_LAG.set(0 if oldest is None else max((utcnow() - oldest).total_seconds(), 0))
