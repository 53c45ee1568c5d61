"""The outbound delivery job: send every delivery that is due, each in its own transaction.

It owns its transactions and takes a sessionmaker: one to pick what is due, then per
delivery one to read it, none while the receiver is being called, and one to record the
attempt (:func:`app.services.outbound.deliveries.record_attempt`). The scheduler runs it
every 15 seconds (job ``outbound.deliver``).
"""

import logging
from collections.abc import Callable
from datetime import datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.models import DeliveryStatus, OutboundDelivery, OutboundWebhook
from app.models.base import utcnow
from app.services.outbound import deliveries
from app.services.platform import crypto

logger = logging.getLogger("loadline.outbound")

BATCH = 100


async def deliver_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    settings: Settings,
    *,
    now: datetime | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Send every delivery that is due, each in its own transaction; returns how many were
    tried. No transaction is held open while a receiver is being called. ``stop``: asked
    before each delivery, so a shutting-down worker ends between deliveries."""
    moment = now or utcnow()
    async with sessionmaker() as db:
        due = list(
            await db.scalars(
                select(OutboundDelivery.id)
                .where(
                    OutboundDelivery.status == DeliveryStatus.PENDING,
                    OutboundDelivery.next_attempt_at <= moment,
                )
                .order_by(OutboundDelivery.next_attempt_at, OutboundDelivery.id)
                .limit(BATCH)
            )
        )
    tried = 0
    for delivery_id in due:
        if stop is not None and stop():
            break
        tried += 1
        try:
            await _deliver_one(sessionmaker, http, settings, delivery_id, moment)
        except Exception:
            logger.exception('{"event": "outbound_delivery_error", "id": %d}', delivery_id)
    return tried


async def _deliver_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    settings: Settings,
    delivery_id: int,
    now: datetime,
) -> None:
    async with sessionmaker() as db:
        delivery = await db.get(OutboundDelivery, delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return
        hook = await db.get(OutboundWebhook, delivery.webhook_id)
        if hook is None:
            return
        url, event = hook.url, delivery.event
        secret = crypto.decrypt(settings, hook.secret_enc)
        body = deliveries.body_of(delivery)
    status, error = await deliveries.send(http, settings, url, event, secret, body)
    async with sessionmaker.begin() as db:
        row = await db.get(OutboundDelivery, delivery_id, with_for_update=True)
        if row is None or row.status != DeliveryStatus.PENDING:
            return
        deliveries.record_attempt(row, status, error, now)
