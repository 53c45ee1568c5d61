"""Outbound webhook subscriptions: a team's owners subscribe a URL to events, list and
delete them; and the check that a target is public, here and before each delivery.

Targets must be public: every address of the host is checked at subscription and again
before each delivery (:mod:`app.services.outbound.deliveries`), which then connects to the
address it checked (the name going only in the Host header and TLS server name), so a name
re-pointed in between (DNS rebinding) gets nothing. Request-scoped: the functions take the
request's session and flush, never commit.
"""

import asyncio
import ipaddress
import secrets
import socket

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Invalid, NotFound
from app.models import DeliveryStatus, OutboundDelivery, OutboundWebhook
from app.models.base import utcnow
from app.services.platform import crypto

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


def parse_target(url: str) -> httpx.URL:
    """The URL as httpx will send it (one parser for the check and the request); 422
    naming ``url`` for a scheme other than http(s) or no host."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        target = None
    if target is None or target.scheme not in ("http", "https") or not target.host:
        raise Invalid("must be an http or https URL with a host", field=URL_FIELD)
    return target


async def target_address(settings: Settings, target: httpx.URL) -> IPAddress:
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
    target = parse_target(url)
    if not settings.outbound_allow_private:
        await target_address(settings, target)


async def create_webhook(
    db: AsyncSession, settings: Settings, team_id: int, url: str, events: list[str]
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
    db.add(webhook)
    await db.flush()
    return webhook, secret


async def list_webhooks(db: AsyncSession, team_id: int) -> list[OutboundWebhook]:
    rows = await db.scalars(
        select(OutboundWebhook)
        .where(OutboundWebhook.team_id == team_id, OutboundWebhook.active.is_(True))
        .order_by(OutboundWebhook.id)
    )
    return list(rows)


async def delete_webhook(db: AsyncSession, team_id: int, webhook_id: int) -> None:
    """Deactivate it: pending deliveries are dropped from the queue (kept as failed)."""
    webhook = await db.get(OutboundWebhook, webhook_id)
    if webhook is None or webhook.team_id != team_id or not webhook.active:
        raise NotFound("Outbound webhook not found")
    webhook.active = False
    pending = await db.scalars(
        select(OutboundDelivery).where(
            OutboundDelivery.webhook_id == webhook_id,
            OutboundDelivery.status == DeliveryStatus.PENDING,
        )
    )
    for delivery in pending:
        delivery.status = DeliveryStatus.FAILED
        delivery.last_error = "webhook deleted"
    await db.flush()
