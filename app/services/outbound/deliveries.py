"""The outbox of outbound webhooks: what is queued, what is sent, and what an attempt leaves.

:func:`enqueue` adds one delivery per subscribed webhook inside the caller's transaction
(so an event is sent only if what caused it was committed, and a receiver that is down
never slows the request). :func:`send` POSTs ``{id, event, team_id, created_at, data}``
signed like the ``gps`` webhook (``X-Loadline-Signature: sha256=<hex
HMAC-SHA256(secret, timestamp + "." + body)>``, ``X-Loadline-Timestamp``) to the address
checked just before (:mod:`app.services.outbound.subscriptions`), and
:func:`record_attempt` retries a non-2xx answer with backoff (30 s, 1, 2, 4 ... minutes, at
most an hour apart) for 24 hours, after which the delivery ends ``failed``. The job that
sends what is due, in its own transactions, is :mod:`app.services.outbound.jobs`.
"""

import json
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Invalid
from app.models import DeliveryStatus, OutboundDelivery, OutboundWebhook
from app.models.base import utcnow
from app.services.outbound import subscriptions
from app.services.platform.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

logger = logging.getLogger("loadline.outbound")

ALERT_CREATED = "alert.created"
STATUS_CHANGED = "status.changed"
AVAILABILITY_CHANGED = "availability.changed"
REMINDER_DUE = "reminder.due"
EVENTS = (ALERT_CREATED, STATUS_CHANGED, AVAILABILITY_CHANGED, REMINDER_DUE)
EVENT_HEADER = "X-Loadline-Event"

FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _jsonable(data: Any) -> Any:
    """Datetimes, dates and enums as JSON (ISO strings, values)."""
    return json.loads(json.dumps(data, default=_default))


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


async def enqueue(db: AsyncSession, team_id: int, event: str, data: dict[str, Any]) -> int:
    """Add a delivery of ``event`` for every active webhook of the team subscribed to it,
    in the caller's transaction; returns how many were added."""
    return await enqueue_many(db, team_id, event, [data])


async def enqueue_many(
    db: AsyncSession, team_id: int, event: str, items: Sequence[dict[str, Any]]
) -> int:
    """:func:`enqueue` for several events of one kind at once (the reminders of a team):
    one look-up of the team's webhooks and one batched insert, whatever their number."""
    if not items:
        return 0
    hooks = await db.scalars(
        select(OutboundWebhook).where(
            OutboundWebhook.team_id == team_id, OutboundWebhook.active.is_(True)
        )
    )
    now = utcnow()
    payloads = [_jsonable(data) for data in items]
    rows = [
        {
            "webhook_id": hook.id,
            "team_id": team_id,
            "event": event,
            "payload": payload,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for hook in hooks
        if event in hook.events
        for payload in payloads
    ]
    if rows:  # Core: one batched INSERT, no ORM object per delivery
        await db.execute(insert(cast(Table, OutboundDelivery.__table__)), rows)
    return len(rows)


def backoff(attempts: int) -> timedelta:
    """After the n-th failed attempt: 30 s, 1 min, 2 min, 4 min ... at most an hour."""
    wait: timedelta = FIRST_RETRY * (2 ** min(max(attempts - 1, 0), 20))
    return min(wait, LONGEST_WAIT)


def body_of(delivery: OutboundDelivery) -> bytes:
    envelope = {
        "id": delivery.id,
        "event": delivery.event,
        "team_id": delivery.team_id,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


async def send(
    http: httpx.AsyncClient, settings: Settings, url: str, event: str, secret: str, body: bytes
) -> tuple[int | None, str | None]:
    """POST ``body`` signed with ``secret`` to ``url``, checked again first; returns the
    answer's status (none without an answer) and the error (none for a 2xx)."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: event,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: f"sha256={signature(secret, timestamp, body)}",
        "User-Agent": "Loadline-Webhooks/1",
    }
    status: int | None = None
    error: str | None = None
    try:
        # Again at send time (a name may have been re-pointed at a private address), and
        # sent to the very address checked.
        target = subscriptions.parse_target(url)
        address = await subscriptions.target_address(settings, target)
        response = await _post(http, target, address, body, headers)
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except Invalid as exc:
        error = f"target refused: {exc.detail}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
    return status, error


async def _post(
    http: httpx.AsyncClient,
    target: httpx.URL,
    address: subscriptions.IPAddress,
    body: bytes,
    headers: dict[str, str],
) -> httpx.Response:
    """POST to ``target`` over a connection to ``address``, the checked one, never to a
    second lookup of the name, which could answer otherwise (DNS rebinding). The name still
    goes in the Host header and, for https, in SNI and the certificate check.
    ``Connection: close``: the pool knows connections by address only, so one verified for
    a name must not carry a request for another name on the same address."""
    name = target.raw_host.decode("ascii")
    return await http.post(
        target.copy_with(host=str(address)),
        content=body,
        headers={**headers, "Host": target.netloc.decode("ascii"), "Connection": "close"},
        timeout=TIMEOUT,
        extensions={"sni_hostname": name},
    )


def record_attempt(
    delivery: OutboundDelivery, status: int | None, error: str | None, now: datetime
) -> None:
    """Count an attempt of a pending delivery made at ``now``: delivered without an error,
    else due again after the backoff, or ``failed`` once that would pass 24 hours."""
    delivery.attempts += 1
    delivery.last_status = status
    delivery.last_error = error
    if error is None:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = utcnow()
        return
    retry_at = now + backoff(delivery.attempts)
    if retry_at - delivery.created_at > GIVE_UP_AFTER:
        delivery.status = DeliveryStatus.FAILED
        logger.warning(
            '{"event": "outbound_delivery_failed", "id": %d, "webhook_id": %d}',
            delivery.id,
            delivery.webhook_id,
        )
    else:
        delivery.next_attempt_at = retry_at
