"""The durable webhook inbox: store first, acknowledge, then process with retries.

A receiver calls :func:`store` inside its request and answers at once; the inbox job
(:func:`app.services.integrations.jobs.process_due`) hands each due event to its
provider's :data:`Handler` in a transaction of its own. A handler raises
:class:`RetryLater` for a passing failure (a vendor's 429 or 5xx, honouring
``Retry-After``); any other exception counts as a failed attempt too. After
``MAX_ATTEMPTS`` the event ends ``failed`` with its last error, visible to admins
(:func:`list_events`, :func:`retry`), never dropped. Everything here runs in the caller's
session.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_insert
from app.errors import Conflict, NotFound
from app.models import InboxStatus, WebhookEvent
from app.models.base import utcnow

logger = logging.getLogger("loadline.inbox")

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
BATCH = 50

Handler = Callable[[AsyncSession, WebhookEvent], Awaitable[None]]


class RetryLater(Exception):
    """A passing failure: try this event again after ``delay`` (or the usual backoff)."""

    def __init__(self, message: str, delay: timedelta | None = None) -> None:
        super().__init__(message)
        self.delay = delay


async def store(
    db: AsyncSession, provider: str, event_key: str, body: bytes, team_id: int | None = None
) -> bool:
    """Keep the event unless it is already in; returns whether it is new (duplicates: False)."""
    result = await db.execute(
        dialect_insert(db, WebhookEvent)
        .values(
            provider=provider,
            event_key=event_key,
            body=body,
            team_id=team_id,
            received_at=utcnow(),
            next_attempt_at=utcnow(),
            status=InboxStatus.PENDING,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["provider", "event_key"])
        .returning(WebhookEvent.id)
    )
    return result.scalar_one_or_none() is not None


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... doubling, at most an hour between tries."""
    wait: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, LONGEST_WAIT)


async def due_ids(db: AsyncSession) -> list[int]:
    """The next :data:`BATCH` events due, oldest due first."""
    return list(
        await db.scalars(
            select(WebhookEvent.id)
            .where(
                WebhookEvent.status == InboxStatus.PENDING,
                WebhookEvent.next_attempt_at <= utcnow(),
            )
            .order_by(WebhookEvent.next_attempt_at, WebhookEvent.id)
            .limit(BATCH)
        )
    )


def mark_done(event: WebhookEvent) -> None:
    """The handler succeeded: the event is processed, for good."""
    event.status = InboxStatus.DONE
    event.attempts += 1
    event.processed_at = utcnow()


async def record_failure(
    db: AsyncSession, event_id: int, error: str, delay: timedelta | None
) -> None:
    """Count a failed attempt: due again after the backoff (or the vendor's ``delay``, if
    longer), or ``failed`` for good after :data:`MAX_ATTEMPTS`."""
    event = await db.get(WebhookEvent, event_id)
    if event is None:
        return
    event.attempts += 1
    event.last_error = error[:2000]
    if event.attempts >= MAX_ATTEMPTS:
        event.status = InboxStatus.FAILED
        logger.warning(
            '{"event": "webhook_failed", "id": %d, "provider": "%s"}', event.id, event.provider
        )
    else:
        wait = max(delay or timedelta(0), backoff(event.attempts))
        event.next_attempt_at = utcnow() + min(wait, LONGEST_WAIT * 6)


async def list_events(
    db: AsyncSession, status: InboxStatus | None, *, limit: int, offset: int
) -> list[WebhookEvent]:
    """Events for administrators, newest first (e.g. the ``failed`` ones to look into)."""
    query = select(WebhookEvent).order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
    if status is not None:
        query = query.where(WebhookEvent.status == status)
    return list(await db.scalars(query.limit(limit).offset(offset)))


async def retry(db: AsyncSession, event_id: int) -> WebhookEvent:
    """Put a failed event back in the queue, due now, with a fresh count of attempts."""
    event = await db.get(WebhookEvent, event_id, with_for_update=True)
    if event is None:
        raise NotFound("Webhook event not found")
    if event.status != InboxStatus.FAILED:
        raise Conflict("Only a failed event can be retried")
    event.status = InboxStatus.PENDING
    event.attempts = 0
    event.next_attempt_at = utcnow()
    await db.flush()
    return event


async def depth(db: AsyncSession) -> dict[InboxStatus, int]:
    """Events waiting (``pending``) and given up (``failed``), read when /metrics is scraped:
    a growing queue means the job is stuck or a vendor is down."""
    rows = await db.execute(
        select(WebhookEvent.status, func.count())
        .where(WebhookEvent.status.in_([InboxStatus.PENDING, InboxStatus.FAILED]))
        .group_by(WebhookEvent.status)
    )
    counts = {InboxStatus.PENDING: 0, InboxStatus.FAILED: 0}
    counts.update({status: int(count) for status, count in rows.all()})
    return counts


async def oldest_pending(db: AsyncSession) -> datetime | None:
    """When the oldest event still waiting arrived: its age is how far processing lags."""
    return await db.scalar(
        select(func.min(WebhookEvent.received_at)).where(WebhookEvent.status == InboxStatus.PENDING)
    )
