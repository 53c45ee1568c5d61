"""Every vendor the integrations know, in one list: what the inbox job, the webhook
router and the scheduler need from each.

A :class:`Vendor` is named as in the inbox (and in ``/webhooks/{provider}``); it has an
inbox handler, may have a webhook receiver (its verification and the body and headers the
OpenAPI document shows), and may have jobs of its own to run daily. Adding a vendor is
one adapter module and one entry in :data:`VENDORS`; a vendor linked by OAuth also needs
its :class:`~app.models.Provider` and its app in :mod:`app.services.integrations.vendor_apps`.

What the contract fixes per vendor stays where it is: Oura's subscription handshake
(``GET /webhooks/oura``, ``app.routers.webhooks``) and the GPS bridges' route, signed per
team (``POST /webhooks/gps/{team_id}``, ``app.routers.gps``).

Only the scheduler, the routers and the CLI import this module; the adapters it lists
import the shared modules (``devices``, ``oauth``, ``inbox``), never the other way round.
"""

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import WebhookEvent
from app.schemas.devices import OuraNotification, WhoopNotification
from app.services.integrations import gps, inbox, oura, whoop
from app.services.integrations.context import VendorContext
from app.services.integrations.webhook_checks import Receiver

VendorHandler = Callable[[VendorContext, AsyncSession, WebhookEvent], Awaitable[None]]


@dataclass(frozen=True)
class Webhook:
    """A vendor's ``POST /webhooks/{name}``: how a delivery is verified and keyed, and
    what the OpenAPI document shows of it."""

    receive: Receiver
    notification: type[BaseModel]
    headers: tuple[str, ...]


@dataclass(frozen=True)
class VendorJob:
    """A vendor's own daily job; ``id`` is its scheduler job id and metrics label."""

    id: str
    run: Callable[[VendorContext], Awaitable[object]]

    def bound(self, ctx: VendorContext) -> Callable[[], Awaitable[None]]:
        """The job as the scheduler runs it: no arguments, its result dropped."""

        async def run() -> None:
            await self.run(ctx)

        return run


@dataclass(frozen=True)
class Vendor:
    """One vendor: ``name`` is its provider name in the inbox (and in ``/webhooks/...``)."""

    name: str
    handle: VendorHandler
    webhook: Webhook | None = None
    daily_jobs: tuple[VendorJob, ...] = ()


VENDORS: tuple[Vendor, ...] = (
    Vendor(
        "whoop",
        whoop.handle,
        Webhook(whoop.receive, WhoopNotification, (whoop.SIGNATURE_HEADER, whoop.TIMESTAMP_HEADER)),
    ),
    Vendor(
        "oura",
        oura.handle,
        Webhook(oura.receive, OuraNotification, (oura.SIGNATURE_HEADER, oura.TIMESTAMP_HEADER)),
        daily_jobs=(VendorJob("oura.subscriptions", oura.ensure_subscriptions),),
    ),
    Vendor(gps.PROVIDER, gps.handle),  # its webhook is per team: app.routers.gps
)

WEBHOOKS: dict[str, Webhook] = {v.name: v.webhook for v in VENDORS if v.webhook is not None}


def inbox_handlers(ctx: VendorContext) -> dict[str, inbox.Handler]:
    """Every vendor's inbox handler, bound to the vendors' HTTP client and settings, keyed
    by the inbox's provider name."""
    return {vendor.name: functools.partial(vendor.handle, ctx) for vendor in VENDORS}


def daily_jobs() -> list[VendorJob]:
    """The vendors' own daily jobs (Oura's webhook subscriptions)."""
    return [job for vendor in VENDORS for job in vendor.daily_jobs]
