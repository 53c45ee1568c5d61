"""The email job: send what the outbox holds, each message claimed by one worker only.

Per message three short transactions and none in between: one claims a due message
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so a second worker takes the next one instead
of waiting, and a lease in ``locked_until``, so a worker that dies mid-send leaves the
message to be picked up again once the lease is over), then the SMTP conversation runs
with no transaction open, then one records the outcome: ``sent`` (payload cleared), a
retry with backoff after a temporary failure (1 minute, doubling up to an hour, at most
``LOADLINE_EMAIL_MAX_ATTEMPTS`` attempts), or ``failed`` at once after a refusal.
:func:`purge_old` forgets sent and failed messages after 30 days, so the outbox does not
keep a record of who was emailed. The scheduler runs :func:`deliver_due` every 15 seconds
(job ``email.deliver``) and :func:`purge_old` hourly.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.models import EmailMessage, EmailStatus
from app.models.base import utcnow
from app.services.email import delivery
from app.services.email.outbox import open_payload
from app.services.platform.crypto import DecryptionError

logger = logging.getLogger("loadline.email")

BATCH = 50  # messages one run sends at most; the next run, 15 s later, goes on
LEASE = timedelta(minutes=5)  # a claim's length: well over delivery.SEND_TIMEOUT
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)
KEEP = timedelta(days=30)


@dataclass(frozen=True)
class Outcome:
    """What one attempt at one message came to."""

    message_id: int
    status: EmailStatus
    error: str | None
    retry_at: datetime | None


def backoff(attempts: int) -> timedelta:
    """After the n-th failed attempt: 1, 2, 4 ... minutes, at most an hour."""
    wait: timedelta = FIRST_RETRY * (2 ** min(max(attempts - 1, 0), 20))
    return min(wait, LONGEST_WAIT)


async def deliver_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Send the due messages one by one (at most BATCH); returns how many were sent.
    ``now`` stands for the clock (tests); ``stop`` is asked before each message, so a
    shutting-down worker ends between messages. With email off nothing is touched."""
    if settings.email_delivery == "none":
        return 0
    sent = 0
    for _ in range(BATCH):
        if stop is not None and stop():
            break
        outcome = await _claim_and_send(sessionmaker, settings, None, now or utcnow())
        if outcome is None:
            break
        sent += outcome.status == EmailStatus.SENT
    return sent


async def deliver_message(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    message_id: int,
    *,
    now: datetime | None = None,
) -> Outcome | None:
    """Send that one message now, if it is due and no worker holds it (``loadline email
    test``); ``None`` when it is not there to send."""
    return await _claim_and_send(sessionmaker, settings, message_id, now or utcnow())


async def purge_old(
    sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime | None = None
) -> int:
    """Delete sent and failed messages older than KEEP; returns how many."""
    cutoff = (now or utcnow()) - KEEP
    async with sessionmaker.begin() as db:
        result = await db.execute(
            delete(EmailMessage)
            .where(
                EmailMessage.status.in_([EmailStatus.SENT, EmailStatus.FAILED]),
                EmailMessage.created_at < cutoff,
            )
            .execution_options(synchronize_session=False)
        )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class _Claim:
    id: int
    payload: bytes | None
    created_at: datetime


async def _claim_and_send(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    only: int | None,
    now: datetime,
) -> Outcome | None:
    claim = await _claim(sessionmaker, only, now)
    if claim is None:
        return None
    error: str | None = None
    permanent = False
    try:
        mail = open_payload(settings, _as_message(claim))
        if mail is None:
            raise delivery.PermanentFailure("nothing to send: the payload is gone")
        # No transaction is open here: the SMTP server may take its time.
        await delivery.send(
            settings,
            mail,
            msg_id=delivery.message_id(settings, f"{claim.id}.{int(claim.created_at.timestamp())}"),
            date=now,
        )
    except delivery.PermanentFailure as exc:
        error, permanent = str(exc), True
    except delivery.TemporaryFailure as exc:
        error = str(exc)
    except DecryptionError:
        error, permanent = "no key in LOADLINE_TOKEN_KEYS opens the payload", True
    except Exception as exc:  # counted as an attempt, so a bug cannot retry it forever
        # Only the type: the text of an unexpected error might quote the message.
        error = f"unexpected {type(exc).__name__}"
    return await _record(sessionmaker, settings, claim.id, error, permanent, now)


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], only: int | None, now: datetime
) -> _Claim | None:
    """Take one due message in one statement: its lease is set by the same ``UPDATE``
    that picks it, so two workers can never both take it (on SQLite the statement is
    atomic; on PostgreSQL the picking ``SELECT`` skips rows another worker has locked)."""
    due = (
        select(EmailMessage.id)
        .where(
            EmailMessage.status == EmailStatus.PENDING,
            EmailMessage.next_attempt_at <= now,
            or_(EmailMessage.locked_until.is_(None), EmailMessage.locked_until <= now),
        )
        .order_by(EmailMessage.next_attempt_at, EmailMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if only is not None:
        due = due.where(EmailMessage.id == only)
    async with sessionmaker.begin() as db:
        row = (
            await db.execute(
                update(EmailMessage)
                .where(EmailMessage.id == due.scalar_subquery())
                .values(locked_until=now + LEASE)
                .returning(EmailMessage.id, EmailMessage.payload, EmailMessage.created_at)
                .execution_options(synchronize_session=False)
            )
        ).first()
    if row is None:
        return None
    return _Claim(id=row.id, payload=row.payload, created_at=row.created_at)


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    message_id: int,
    error: str | None,
    permanent: bool,
    now: datetime,
) -> Outcome:
    async with sessionmaker.begin() as db:
        message = await db.get(EmailMessage, message_id, with_for_update=True)
        if message is None:  # erased (its user deleted) while it was being sent
            return Outcome(message_id, EmailStatus.FAILED, error, None)
        if message.status != EmailStatus.PENDING:  # recorded already (a lease ran out)
            return Outcome(message_id, message.status, message.last_error, None)
        message.attempts += 1
        message.locked_until = None
        message.last_error = error
        retry_at: datetime | None = None
        if error is None:
            message.status = EmailStatus.SENT
            message.sent_at = utcnow()
            message.payload = None
        elif permanent or message.attempts >= settings.email_max_attempts:
            message.status = EmailStatus.FAILED
            message.payload = None
        else:
            retry_at = now + backoff(message.attempts)
            message.next_attempt_at = retry_at
        outcome = Outcome(message_id, message.status, error, retry_at)
    _log(outcome, message_id)
    return outcome


def _as_message(claim: _Claim) -> EmailMessage:
    """A detached row carrying only the payload, for :func:`open_payload`."""
    return EmailMessage(id=claim.id, payload=claim.payload)


def _log(outcome: Outcome, message_id: int) -> None:
    """The id, the status and the short error: never the address, subject or body."""
    entry = {"event": f"email_{outcome.status.value}", "id": message_id}
    if outcome.status == EmailStatus.PENDING:
        entry["event"] = "email_retry"
    if outcome.error is not None:
        entry["error"] = outcome.error
    level = logging.WARNING if outcome.status == EmailStatus.FAILED else logging.INFO
    logger.log(level, json.dumps(entry))
