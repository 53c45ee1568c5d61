"""Oura (API v2): webhook signatures and verification, subscriptions, and sleep HRV.

A ``sleep`` notification names a sleep period: the handler fetches it
(``GET /v2/usercollection/sleep/{id}``) and keeps ``average_hrv`` of a ``long_sleep``
period as the rMSSD of the record's ``day``. Oura only notifies while the app's webhook
subscriptions live, so :func:`ensure_subscriptions` creates and renews them: Oura's daily
job in the registry. It uses the app's credentials, not an athlete's token, and touches
no database.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Unauthorized
from app.models import HrvSource, LinkedDevice, Provider, WebhookEvent
from app.models.base import utcnow
from app.models.integrations import EVENT_KEY_LENGTH
from app.schemas.devices import OuraNotification
from app.services.hrv import service as hrv
from app.services.integrations import devices, webhook_checks
from app.services.integrations.context import VendorContext
from app.services.integrations.errors import DeviceUnusable, VendorBusy, VendorError
from app.services.integrations.vendor_apps import VendorApp, vendor_app

SIGNATURE_HEADER = "x-oura-signature"
TIMESTAMP_HEADER = "x-oura-timestamp"
MILLISECONDS_ABOVE = 10**11  # a timestamp this large is in milliseconds, not seconds
SLEEP = "sleep"
LONG_SLEEP = "long_sleep"
SUBSCRIPTION_PATH = "/v2/webhook/subscription"
SUBSCRIBED = (("sleep", "create"), ("sleep", "update"))  # (data_type, event_type)
RENEW_BEFORE = timedelta(days=7)  # renew this long before expiry; the job runs daily


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    """hex HMAC-SHA256(client secret, timestamp as received + raw body), as Oura signs."""
    return hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).hexdigest()


def verify(settings: Settings, headers: Mapping[str, str], body: bytes) -> None:
    """401 unless the raw body is signed with our client secret within five minutes.

    The hex digest is compared without regard to case; the timestamp is signed exactly as
    received and read as seconds (milliseconds when above 10^11).
    """
    secret = settings.oura_client_secret
    signature = headers.get(SIGNATURE_HEADER, "")
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    if not (secret and signature and timestamp):
        raise Unauthorized("Missing or bad Oura signature")
    expected = expected_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise Unauthorized("Missing or bad Oura signature")
    webhook_checks.check_timestamp(timestamp, milliseconds=_in_milliseconds(timestamp))


def _in_milliseconds(timestamp: str) -> bool:
    try:
        return float(timestamp) > MILLISECONDS_ABOVE
    except ValueError:
        return False


def event_key(note: OuraNotification) -> str:
    """Oura's identity of an event, the same in every delivery of it: what happened
    (``event_type``, ``data_type``) to which record (``object_id``) of whom (``user_id``),
    and ``event_time`` when the body has one (it tells two updates of a record apart).

    Never the delivery's signed timestamp: Oura signs each redelivery anew, so the same
    event would be queued again. JSON, so that no part can run into the next; hashed when
    longer than the column (the parts may be up to 64 or 100 characters each).
    """
    parts = [note.event_type, note.data_type, note.object_id, note.user_id]
    if note.event_time:
        parts.append(note.event_time)
    key = json.dumps(parts, separators=(",", ":"))
    if len(key) <= EVENT_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def receive(settings: Settings, headers: Mapping[str, str], body: bytes) -> str:
    """Verify and read a delivery; returns the inbox key. 401 or 400 when it is not Oura's."""
    verify(settings, headers, body)
    return event_key(webhook_checks.parse_body(OuraNotification, body))


def check_verification_token(settings: Settings, token: str) -> None:
    """Oura's subscription handshake: the token must be ours (and one must be configured)."""
    expected = settings.oura_verification_token
    if not (expected and hmac.compare_digest(expected.encode(), token.encode())):
        raise Unauthorized("Wrong verification token")


async def handle(ctx: VendorContext, db: AsyncSession, event: WebhookEvent) -> None:
    """Inbox handler: a created or updated ``sleep`` becomes the day's HRV for every active
    link of that Oura account. Other data types and deletions are acknowledged and ignored."""
    note = OuraNotification.model_validate_json(event.body)
    if note.data_type != SLEEP or note.event_type == "delete":
        return
    for device in await devices.active_devices(db, Provider.OURA, note.user_id):
        try:
            await _store_sleep(ctx, db, device, note.object_id)
        except DeviceUnusable:
            continue  # marked reauth_required (committed with this event) or unlinked


async def _store_sleep(
    ctx: VendorContext, db: AsyncSession, device: LinkedDevice, sleep_id: str
) -> None:
    record = await devices.fetch_as_athlete(
        ctx, db, device, f"/v2/usercollection/sleep/{quote(sleep_id, safe='')}"
    )
    reading = long_sleep_hrv(record) if record is not None else None
    membership = await devices.device_membership(db, device)
    if reading is None or membership is None:
        return
    day, rmssd = reading
    await hrv.record(db, membership, day, rmssd, HrvSource.OURA)


def long_sleep_hrv(record: Mapping[str, Any]) -> tuple[date, float] | None:
    """The record's day and ``average_hrv`` when it is the night's ``long_sleep``; naps,
    rests and periods without HRV give None."""
    if record.get("type") != LONG_SLEEP:
        return None
    rmssd = devices.plausible_rmssd(record.get("average_hrv"))
    try:
        day = date.fromisoformat(str(record.get("day")))
    except ValueError:
        return None
    return (day, rmssd) if rmssd is not None else None


# --- Webhook subscriptions (app credentials, not an athlete's token) ------------------------


@dataclass(frozen=True)
class SubscriptionReport:
    created: int = 0
    renewed: int = 0
    kept: int = 0


def callback_url(settings: Settings) -> str:
    return f"{settings.public_base_url.rstrip('/')}/webhooks/oura"


async def ensure_subscriptions(ctx: VendorContext) -> SubscriptionReport:
    """Create the missing ``sleep`` subscriptions for our callback and renew those that
    expire within :data:`RENEW_BEFORE`. A no-op while Oura is not configured."""
    settings = ctx.settings
    app = vendor_app(settings, Provider.OURA)
    if not (app.configured and settings.oura_verification_token):
        return SubscriptionReport()
    existing = await _subscriptions(ctx, app)
    created = renewed = kept = 0
    for data_type, event_type in SUBSCRIBED:
        current = _find(existing, callback_url(settings), data_type, event_type)
        if current is None:
            await _create(ctx, app, data_type, event_type)
            created += 1
        elif _expires_soon(current):
            await _renew(ctx, app, str(current["id"]))
            renewed += 1
        else:
            kept += 1
    return SubscriptionReport(created, renewed, kept)


def _app_headers(app: VendorApp) -> dict[str, str]:
    return {"x-client-id": app.client_id, "x-client-secret": app.client_secret}


async def _call(
    ctx: VendorContext, app: VendorApp, method: str, path: str, body: Any = None
) -> Any:
    """One subscription API call; failures name the method, path and status, no secrets."""
    what = f"Oura {method} {path}"
    try:
        response = await ctx.http.request(
            method, f"{app.api_base}{path}", headers=_app_headers(app), json=body
        )
    except httpx.TransportError:
        raise VendorBusy(f"{what}: unreachable") from None
    if not response.is_success:
        raise VendorError(f"{what}: HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise VendorError(f"{what}: the body is not JSON") from None


async def _subscriptions(ctx: VendorContext, app: VendorApp) -> list[dict[str, Any]]:
    listed = await _call(ctx, app, "GET", SUBSCRIPTION_PATH)
    return [item for item in listed if isinstance(item, dict)] if isinstance(listed, list) else []


def _find(
    existing: list[dict[str, Any]], url: str, data_type: str, event_type: str
) -> dict[str, Any] | None:
    for item in existing:
        if (item.get("callback_url"), item.get("data_type"), item.get("event_type")) == (
            url,
            data_type,
            event_type,
        ):
            return item
    return None


def _expires_soon(subscription: Mapping[str, Any]) -> bool:
    """Due for renewal: expiring within :data:`RENEW_BEFORE`, or with no readable expiry."""
    try:
        expires = datetime.fromisoformat(str(subscription.get("expiration_time")))
    except ValueError:
        return True
    if expires.tzinfo is None:
        return True
    return expires - utcnow() < RENEW_BEFORE


async def _create(ctx: VendorContext, app: VendorApp, data_type: str, event_type: str) -> None:
    """Oura answers the creation by calling our verification GET with the token first."""
    await _call(
        ctx,
        app,
        "POST",
        SUBSCRIPTION_PATH,
        {
            "callback_url": callback_url(ctx.settings),
            "verification_token": ctx.settings.oura_verification_token,
            "event_type": event_type,
            "data_type": data_type,
        },
    )


async def _renew(ctx: VendorContext, app: VendorApp, subscription_id: str) -> None:
    await _call(ctx, app, "PUT", f"{SUBSCRIPTION_PATH}/renew/{quote(subscription_id, safe='')}")
