"""The integrations' jobs: each owns its transactions and takes an ``async_sessionmaker``.

- :func:`process_due`, the inbox job: each due webhook event goes to its provider's
  handler in a transaction of its own; a failure is recorded on the event, to retry.
- :func:`refresh_for_inbox`, run just before it: the tokens the due Whoop and Oura events
  will need are refreshed and committed first, since vendors rotate refresh tokens.
- :func:`refresh_expiring`: renew the active tokens that expire soon, one device per
  transaction.

The scheduler (``app.scheduler``) runs them with the handlers of
:mod:`app.services.integrations.registry`.
"""

import json
import logging
from collections.abc import Callable, Collection, Mapping
from datetime import timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import DeviceStatus, InboxStatus, LinkedDevice, Provider, WebhookEvent
from app.models.base import utcnow
from app.services.integrations import devices, inbox
from app.services.integrations.context import VendorContext
from app.services.integrations.errors import DeviceUnusable, VendorBusy, VendorError
from app.services.integrations.inbox import BATCH, Handler, RetryLater
from app.services.integrations.vendor_apps import inbox_name

logger = logging.getLogger("loadline.devices")

REFRESH_AHEAD = timedelta(minutes=15)  # :func:`refresh_expiring` renews tokens this close
# The inbox's provider names for linked devices ("whoop", "oura"): their events carry a
# vendor account whose token the handler will use.
LINKED_DEVICE_INBOXES = tuple(inbox_name(provider) for provider in Provider)


# --- The inbox -----------------------------------------------------------------------------


async def process_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    handlers: Mapping[str, Handler],
    *,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Process the events that are due, each in its own transaction; returns how many ran.

    ``stop``: asked before each event, so a shutting-down worker ends between events.
    """
    async with sessionmaker() as db:
        due = await inbox.due_ids(db)
    ran = 0
    for event_id in due:
        if stop is not None and stop():
            break
        await _process_one(sessionmaker, handlers, event_id)
        ran += 1
    return ran


async def _process_one(
    sessionmaker: async_sessionmaker[AsyncSession], handlers: Mapping[str, Handler], event_id: int
) -> None:
    """One event, one transaction; when it fails, the failure is recorded in another (the
    first one rolled back whatever the handler had written)."""
    error: str | None = None
    delay: timedelta | None = None
    try:
        async with sessionmaker.begin() as db:
            event = await db.get(WebhookEvent, event_id, with_for_update={"skip_locked": True})
            if event is None or event.status != InboxStatus.PENDING:
                return
            handler = handlers.get(event.provider)
            if handler is None:
                raise LookupError(f"no handler for provider {event.provider!r}")
            event.last_error = None  # a handler may note what it skipped
            await handler(db, event)
            inbox.mark_done(event)
            return
    except RetryLater as exc:
        error, delay = str(exc), exc.delay
    except Exception as exc:  # any failure is recorded on the event, never lost
        error = f"{type(exc).__name__}: {exc}"
    async with sessionmaker.begin() as db:
        await inbox.record_failure(db, event_id, error, delay)


# --- Tokens --------------------------------------------------------------------------------


async def refresh_expiring(
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
    within: timedelta = REFRESH_AHEAD,
    accounts: Collection[tuple[Provider, str]] | None = None,
) -> int:
    """Refresh the active tokens expiring within ``within`` (of ``accounts`` only, when
    given: ``(provider, external_user_id)`` pairs), each in its own committed transaction.
    Returns how many were refreshed."""
    query = select(LinkedDevice.id).where(
        LinkedDevice.status == DeviceStatus.ACTIVE,
        LinkedDevice.refresh_token_enc.is_not(None),
        LinkedDevice.expires_at <= utcnow() + within,
    )
    if accounts is not None:
        if not accounts:
            return 0
        query = query.where(
            tuple_(LinkedDevice.provider, LinkedDevice.external_user_id).in_(list(accounts))
        )
    async with sessionmaker() as db:
        due = list(await db.scalars(query.order_by(LinkedDevice.id)))
    refreshed = 0
    for device_id in due:
        refreshed += await _refresh_one(sessionmaker, ctx, device_id, within)
    return refreshed


async def refresh_for_inbox(
    sessionmaker: async_sessionmaker[AsyncSession], ctx: VendorContext
) -> int:
    """Run before the inbox job: refresh, in committed transactions of their own, the
    expiring tokens that the due Whoop and Oura events will need. An inbox attempt that
    fails is rolled back, and a pair rotated inside it would be lost with it (Oura's old
    refresh token is already spent); refreshed here, the new pair is safe."""
    async with sessionmaker() as db:
        bodies = await db.execute(
            select(WebhookEvent.provider, WebhookEvent.body)
            .where(
                WebhookEvent.status == InboxStatus.PENDING,
                WebhookEvent.next_attempt_at <= utcnow(),
                WebhookEvent.provider.in_(LINKED_DEVICE_INBOXES),
            )
            .order_by(WebhookEvent.next_attempt_at, WebhookEvent.id)
            .limit(BATCH)
        )
        accounts = {_account_of(provider, body) for provider, body in bodies}
    return await refresh_expiring(sessionmaker, ctx, accounts={a for a in accounts if a})


def _account_of(provider: str, body: bytes) -> tuple[Provider, str] | None:
    """The vendor account a stored notification is about (both vendors say ``user_id``)."""
    try:
        user_id = json.loads(body).get("user_id")
    except (ValueError, AttributeError):
        return None
    if isinstance(user_id, bool) or not isinstance(user_id, int | str):
        return None
    return Provider(provider.upper()), str(user_id)


async def _refresh_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
    device_id: int,
    within: timedelta,
) -> int:
    """One device, one transaction: a vendor failure for one athlete holds back no other,
    and a refusal commits ``reauth_required``. Returns 1 when it refreshed."""
    try:
        async with sessionmaker.begin() as db:
            device = await devices.lock_device(db, device_id)
            if device is None or device.status != DeviceStatus.ACTIVE:
                return 0
            if not devices.expiring(device, within):
                return 0  # another worker refreshed it meanwhile
            try:
                await devices.refresh(ctx, db, device)
            except DeviceUnusable:
                return 0  # committed as reauth_required
            return 1
    except (VendorBusy, VendorError) as exc:
        logger.warning(
            json.dumps(
                {"event": "device_refresh_failed", "device_id": device_id, "error": str(exc)}
            )
        )
        return 0
