"""Outbound webhooks: teams subscribe a URL to events; deliveries go through a durable outbox.

:func:`enqueue` adds one delivery per subscribed webhook inside the caller's transaction
(so an event is sent only if what caused it was committed, and a receiver that is down
never slows the request). The job :func:`deliver_due` POSTs ``{id, event, team_id,
created_at, data}`` signed like the ``gps`` webhook (``X-Loadline-Signature: sha256=<hex
HMAC-SHA256(secret, timestamp + "." + body)>``, ``X-Loadline-Timestamp``), and retries a
non-2xx answer with backoff (30 s, 1, 2, 4 ... minutes, at most an hour apart) for 24 hours,
after which the delivery ends ``failed``.

Targets must be public: every address of the host is checked at subscription and again
before each delivery, which then connects to the address it checked (the name going only in
the Host header and TLS server name), so a name re-pointed in between (DNS rebinding) gets
nothing.
"""

import asyncio
import ipaddress
import json
import logging
import secrets
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.errors import Invalid, NotFound
from app.models import (
    DeliveryStatus,
    OutboundDelivery,
    OutboundMemberStatus,
    OutboundWebhook,
    Team,
)
from app.models.base import utcnow
from app.services.platform import crypto
from app.services.platform.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

logger = logging.getLogger("loadline.outbound")

ALERT_CREATED = "alert.created"
STATUS_CHANGED = "status.changed"
EVENTS = (ALERT_CREATED, STATUS_CHANGED)
EVENT_HEADER = "X-Loadline-Event"
NO_DATA = "no_data"  # what a member's first status counts as a change from

FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
BATCH = 100


# --- subscriptions ----------------------------------------------------------------------


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
URL_FIELD = ("body", "url")
# IPv6 forms whose last 32 bits are an IPv4 address a packet may end up at: NAT64's
# well-known and local-use prefixes, IPv4-compatible (deprecated) and IPv4-translated.
IPV4_IN_LAST_32_BITS = tuple(
    ipaddress.IPv6Network(net)
    for net in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96")
)
# Not global, though Python 3.11's ``is_global`` table (older than IANA's) says they are.
NOT_GLOBAL = tuple(ipaddress.ip_network(net) for net in ("192.0.0.0/24", "3fff::/20", "5f00::/16"))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a packet to ``address`` may end up at (6to4, Teredo, NAT64...)."""
    found = [address.sixtofour, *(address.teredo or ())]
    if any(address in net for net in IPV4_IN_LAST_32_BITS):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF))
    return [inner for inner in found if inner is not None]


def public_address(address: IPAddress) -> bool:
    """Only a globally reachable unicast address may be a target. ``is_global`` alone is not
    enough: it lets multicast through, site-local IPv6, and IPv6 forms that carry an IPv4
    address (the 6to4 form of 127.0.0.1 is "global"), so those are judged by the IPv4 too."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return public_address(address.ipv4_mapped)
        if address.is_site_local or not all(map(public_address, _embedded_ipv4(address))):
            return False
    if any(address in net for net in NOT_GLOBAL if net.version == address.version):
        return False
    return address.is_global and not address.is_multicast


async def resolve(host: str) -> list[str]:
    """What DNS answers for ``host``: the one place a target's name is looked up, so that
    the address checked is the address connected to."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _parse_target(url: str) -> httpx.URL:
    """The URL as httpx will send it (one parser for the check and the request); 422
    naming ``url`` for a scheme other than http(s) or no host."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        target = None
    if target is None or target.scheme not in ("http", "https") or not target.host:
        raise Invalid("must be an http or https URL with a host", field=URL_FIELD)
    return target


async def _target_address(settings: Settings, target: httpx.URL) -> IPAddress:
    """The address to connect to, the first of the host's: looked up once and, unless
    ``LOADLINE_OUTBOUND_ALLOW_PRIVATE``, every one of them public (one non-global answer
    among global ones refuses the name). 422 naming ``url`` otherwise."""
    host = target.raw_host.decode("ascii")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            answers = await resolve(host)
        except (OSError, UnicodeError):
            raise Invalid("the host does not resolve", field=URL_FIELD) from None
        addresses = [ipaddress.ip_address(answer.split("%")[0]) for answer in answers]
    if not addresses:
        raise Invalid("the host does not resolve", field=URL_FIELD)
    if not settings.outbound_allow_private and not all(map(public_address, addresses)):
        raise Invalid(
            "only public (globally reachable) addresses are accepted: loopback, private, "
            "shared and other special-purpose networks are refused",
            field=URL_FIELD,
        )
    return addresses[0]


async def check_target(settings: Settings, url: str) -> None:
    """422 naming ``url`` for a URL that is not http(s), or whose host has a non-global
    address (unless ``LOADLINE_OUTBOUND_ALLOW_PRIVATE``)."""
    target = _parse_target(url)
    if not settings.outbound_allow_private:
        await _target_address(settings, target)


async def create_webhook(
    session: AsyncSession, settings: Settings, team_id: int, url: str, events: list[str]
) -> tuple[OutboundWebhook, str]:
    """Store a subscription; returns it with its secret (shown to the owner once)."""
    await check_target(settings, url)
    secret = secrets.token_urlsafe(32)
    webhook = OutboundWebhook(
        team_id=team_id,
        url=url,
        events=sorted(set(events)),
        secret_enc=crypto.encrypt(settings, secret),
        active=True,
        created_at=utcnow(),
    )
    session.add(webhook)
    await session.flush()
    return webhook, secret


async def list_webhooks(session: AsyncSession, team_id: int) -> list[OutboundWebhook]:
    rows = await session.scalars(
        select(OutboundWebhook)
        .where(OutboundWebhook.team_id == team_id, OutboundWebhook.active.is_(True))
        .order_by(OutboundWebhook.id)
    )
    return list(rows)


async def delete_webhook(session: AsyncSession, team_id: int, webhook_id: int) -> None:
    """Deactivate it: pending deliveries are dropped from the queue (kept as failed)."""
    webhook = await session.get(OutboundWebhook, webhook_id)
    if webhook is None or webhook.team_id != team_id or not webhook.active:
        raise NotFound("Outbound webhook not found")
    webhook.active = False
    pending = await session.scalars(
        select(OutboundDelivery).where(
            OutboundDelivery.webhook_id == webhook_id,
            OutboundDelivery.status == DeliveryStatus.PENDING,
        )
    )
    for delivery in pending:
        delivery.status = DeliveryStatus.FAILED
        delivery.last_error = "webhook deleted"
    await session.flush()


# --- the outbox ---------------------------------------------------------------------------


def _jsonable(data: Any) -> Any:
    """Datetimes, dates and enums as JSON (ISO strings, values)."""
    return json.loads(json.dumps(data, default=_default))


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


async def enqueue(session: AsyncSession, team_id: int, event: str, data: dict[str, Any]) -> int:
    """Add a delivery of ``event`` for every active webhook of the team subscribed to it,
    in the caller's transaction; returns how many were added."""
    hooks = await session.scalars(
        select(OutboundWebhook).where(
            OutboundWebhook.team_id == team_id, OutboundWebhook.active.is_(True)
        )
    )
    now = utcnow()
    added = 0
    for hook in hooks:
        if event not in hook.events:
            continue
        session.add(
            OutboundDelivery(
                webhook_id=hook.id,
                team_id=team_id,
                event=event,
                payload=_jsonable(data),
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        added += 1
    if added:
        await session.flush()
    return added


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
    async with sessionmaker() as session:
        due = list(
            await session.scalars(
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
    async with sessionmaker() as session:
        delivery = await session.get(OutboundDelivery, delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return
        hook = await session.get(OutboundWebhook, delivery.webhook_id)
        if hook is None:
            return
        url, event = hook.url, delivery.event
        secret = crypto.decrypt(settings, hook.secret_enc)
        body = body_of(delivery)
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
        target = _parse_target(url)
        address = await _target_address(settings, target)
        response = await _post(http, target, address, body, headers)
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except Invalid as exc:
        error = f"target refused: {exc.detail}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
    async with sessionmaker.begin() as session:
        row = await session.get(OutboundDelivery, delivery_id, with_for_update=True)
        if row is None or row.status != DeliveryStatus.PENDING:
            return
        row.attempts += 1
        row.last_status = status
        row.last_error = error
        if error is None:
            row.status = DeliveryStatus.DELIVERED
            row.delivered_at = utcnow()
            return
        retry_at = now + backoff(row.attempts)
        if retry_at - row.created_at > GIVE_UP_AFTER:
            row.status = DeliveryStatus.FAILED
            logger.warning(
                '{"event": "outbound_delivery_failed", "id": %d, "webhook_id": %d}',
                row.id,
                row.webhook_id,
            )
        else:
            row.next_attempt_at = retry_at


async def _post(
    http: httpx.AsyncClient,
    target: httpx.URL,
    address: IPAddress,
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


# --- status.changed -------------------------------------------------------------------------


async def track_statuses(session: AsyncSession, team: Team) -> int:
    """Enqueue ``status.changed`` for each player whose roster status differs from the one
    last stored, and store the new one; returns how many changed. Only runs when the team
    has a webhook subscribed to it. A member seen for the first time counts as coming from
    ``no_data`` (the contract: no change is missed, also for a newcomer red before the
    next run), so a first ``no_data`` is stored without an event."""
    # roster imports alerts, which imports this module
    from app.services.coach import roster

    hooks = await list_webhooks(session, team.id)
    if not any(STATUS_CHANGED in hook.events for hook in hooks):
        return 0
    known = {
        row.membership_id: row
        for row in await session.scalars(
            select(OutboundMemberStatus).where(OutboundMemberStatus.team_id == team.id)
        )
    }
    now = utcnow()
    changed = 0
    for player in await roster.player_statuses(session, team):
        membership = player.membership
        stored = known.get(membership.id)
        if stored is None:
            stored = OutboundMemberStatus(
                membership_id=membership.id, team_id=team.id, status=NO_DATA, updated_at=now
            )
            session.add(stored)
        if stored.status == player.status:
            continue
        await enqueue(
            session,
            team.id,
            STATUS_CHANGED,
            {
                "membership_id": membership.id,
                "user_id": membership.user_id,
                "previous_status": stored.status,
                "status": player.status,
                "changed_at": now,
            },
        )
        stored.status = player.status
        stored.updated_at = now
        changed += 1
    await session.flush()
    return changed
