"""Linked Whoop and Oura accounts once linked: listing and unlinking them, and tokens that
stay usable while the adapters fetch the athlete's records.

Both vendors rotate refresh tokens (Oura's are single-use), so a refresh holds the device's
row lock (``SELECT ... FOR UPDATE``) and the new pair is saved before it is used; a refresh
the vendor refuses marks the device ``reauth_required`` instead of failing jobs. The jobs
that refresh ahead of time, in transactions of their own, are in
:mod:`app.services.integrations.jobs`; linking is in :mod:`app.services.integrations.oauth`.
Also here: re-encrypting every stored token and secret under the newest key.
"""

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NoReturn

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.config import Settings
from app.errors import NotFound
from app.models import Base, DeviceStatus, LinkedDevice, Provider, TeamMembership
from app.models.base import utcnow
from app.services.integrations import oauth, vendor_api
from app.services.integrations.context import VendorContext
from app.services.integrations.errors import DeviceUnusable
from app.services.integrations.vendor_apps import vendor_app
from app.services.platform import crypto

logger = logging.getLogger("loadline.devices")

REFRESH_LEEWAY = timedelta(minutes=2)  # refresh a little early: clocks and requests drift
MAX_RMSSD_MS = 300.0  # the contract's bound for a stored rMSSD


# --- Listing and unlinking -----------------------------------------------------------------


async def list_devices(db: AsyncSession, membership_id: int) -> list[LinkedDevice]:
    return list(
        await db.scalars(
            select(LinkedDevice)
            .where(LinkedDevice.membership_id == membership_id)
            .order_by(LinkedDevice.id)
        )
    )


async def delete_device(db: AsyncSession, membership_id: int, device_id: int) -> None:
    """Forget the link and its tokens. HRV already stored from it is kept."""
    device = await db.get(LinkedDevice, device_id)
    if device is None or device.membership_id != membership_id:
        raise NotFound("Device not found")
    await db.delete(device)
    await db.flush()


# --- Using a device's tokens ---------------------------------------------------------------


async def active_devices(
    db: AsyncSession, provider: Provider, external_user_id: str
) -> list[LinkedDevice]:
    """The active links of one vendor account (an athlete in two teams has two)."""
    return list(
        await db.scalars(
            select(LinkedDevice)
            .where(
                LinkedDevice.provider == provider,
                LinkedDevice.external_user_id == external_user_id,
                LinkedDevice.status == DeviceStatus.ACTIVE,
            )
            .order_by(LinkedDevice.id)
        )
    )


async def lock_device(db: AsyncSession, device_id: int) -> LinkedDevice | None:
    """The device under its row lock, freshly read: a refresh by another worker is seen."""
    device: LinkedDevice | None = await db.scalar(
        select(LinkedDevice)
        .where(LinkedDevice.id == device_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return device


def expiring(device: LinkedDevice, within: timedelta = REFRESH_LEEWAY) -> bool:
    return device.expires_at is not None and device.expires_at <= utcnow() + within


async def access_token(
    ctx: VendorContext, db: AsyncSession, device_id: int, *, refused: str | None = None
) -> str:
    """A usable access token, refreshed first (under the row lock) if it is expiring or is
    ``refused``, the token the vendor just answered 401 to. Raises :class:`DeviceUnusable`."""
    device = await lock_device(db, device_id)
    if device is None or device.status != DeviceStatus.ACTIVE:
        raise DeviceUnusable(f"device {device_id} is not active")
    current = crypto.decrypt(ctx.settings, device.access_token_enc)
    if expiring(device) or (refused is not None and current == refused):
        await refresh(ctx, db, device)
        current = crypto.decrypt(ctx.settings, device.access_token_enc)
    return current


async def refresh(ctx: VendorContext, db: AsyncSession, device: LinkedDevice) -> None:
    """Trade the refresh token for a new pair and save it (flushed) before anyone uses it.
    The caller holds the row lock; a refusal marks the device ``reauth_required``."""
    app = vendor_app(ctx.settings, device.provider)
    if device.refresh_token_enc is None:
        await require_reauth(db, device, "no refresh token")
    current = crypto.decrypt(ctx.settings, device.refresh_token_enc or "")
    try:
        token = await oauth.refresh_grant(ctx, app, current)
    except oauth.TokenRefused as exc:
        await require_reauth(db, device, f"refresh refused ({exc.code})")
    oauth.save_tokens(ctx.settings, device, token, keep_refresh=True)
    await db.flush()
    logger.info(
        json.dumps(
            {"event": "device_token_refreshed", "device_id": device.id, "provider": app.name}
        )
    )


async def require_reauth(db: AsyncSession, device: LinkedDevice, reason: str) -> NoReturn:
    """Mark the device ``reauth_required`` (the athlete must link again) and stop using it."""
    device.status = DeviceStatus.REAUTH_REQUIRED
    await db.flush()
    logger.warning(
        json.dumps(
            {
                "event": "device_reauth_required",
                "device_id": device.id,
                "provider": device.provider.value,
                "reason": reason,
            }
        )
    )
    raise DeviceUnusable(f"device {device.id}: {reason}")


async def fetch_as_athlete(
    ctx: VendorContext, db: AsyncSession, device: LinkedDevice, path: str
) -> dict[str, Any] | None:
    """GET a vendor resource with the device's token; a 401 gets one refresh and one retry.
    None when the vendor has no such record; raises :class:`DeviceUnusable`,
    :class:`VendorBusy` (passing) or :class:`VendorError`."""
    app = vendor_app(ctx.settings, device.provider)
    token = await access_token(ctx, db, device.id)
    response = await vendor_api.api_get(ctx, app, path, token)
    if response.status_code == 401:
        token = await access_token(ctx, db, device.id, refused=token)
        response = await vendor_api.api_get(ctx, app, path, token)
        if response.status_code == 401:
            await require_reauth(db, device, "access token refused after a refresh")
    return vendor_api.json_resource(app, path, response)


# --- From a vendor's record to the athlete's -----------------------------------------------


async def device_membership(db: AsyncSession, device: LinkedDevice) -> TeamMembership | None:
    """The device's membership with its team, if it still takes new entries (active)."""
    membership = await db.scalar(
        select(TeamMembership)
        .options(joinedload(TeamMembership.team))
        .where(TeamMembership.id == device.membership_id)
    )
    if membership is None or not membership.active:
        return None
    return membership


def plausible_rmssd(value: object) -> float | None:
    """A vendor's rMSSD in milliseconds if it is a number the contract accepts, (0, 300]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 < value <= MAX_RMSSD_MS else None


# --- Key rotation --------------------------------------------------------------------------


async def reencrypt_secrets(
    db: AsyncSession, settings: Settings, progress: Callable[[int, int], None] | None = None
) -> int:
    """Re-encrypt every encrypted column (``*_enc``) of every table under the newest key,
    so the old key can then be removed. Returns the number of values rewritten."""
    values: list[tuple[Table, str, tuple[Any, ...], str]] = []
    for table in Base.metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        for column in (c for c in table.columns if c.name.endswith("_enc")):
            rows = await db.execute(
                select(*keys, column).where(column.is_not(None)).order_by(*keys)
            )
            values.extend((table, column.name, tuple(row[:-1]), row[-1]) for row in rows)
    total = len(values)
    if progress is not None:
        progress(0, total)
    for done, (table, name, key, value) in enumerate(values, start=1):
        where = [c == k for c, k in zip(table.primary_key.columns, key, strict=True)]
        fresh = crypto.reencrypt(settings, value)
        await db.execute(update(table).where(*where).values({name: fresh}))
        if progress is not None:
            progress(done, total)
    return total
