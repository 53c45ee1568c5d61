"""Whoop (API v2): webhook signatures, and a recovery's HRV as the athlete's daily rMSSD.

``recovery.updated`` carries the id of the sleep the recovery belongs to: the handler
fetches that sleep (``GET /v2/activity/sleep/{id}``), then its cycle's recovery
(``GET /v2/cycle/{cycle_id}/recovery``), and stores ``hrv_rmssd_milli`` only when the
recovery is ``SCORED``, on the day the athlete woke (the sleep's ``end``, in the team's zone).
"""

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Unauthorized
from app.models import HrvSource, LinkedDevice, Provider, WebhookEvent
from app.schemas.devices import WhoopNotification
from app.services.hrv import service as hrv
from app.services.integrations import devices, webhook_checks
from app.services.integrations.context import VendorContext
from app.services.integrations.errors import DeviceUnusable, VendorError
from app.services.platform.days import day_of, team_zone

SIGNATURE_HEADER = "X-WHOOP-Signature"
TIMESTAMP_HEADER = "X-WHOOP-Signature-Timestamp"  # epoch milliseconds
RECOVERY_UPDATED = "recovery.updated"
SCORED = "SCORED"


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(client secret, timestamp + raw body)), as Whoop signs."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(settings: Settings, headers: Mapping[str, str], body: bytes) -> None:
    """401 unless the raw body is signed with our client secret within five minutes.

    Without a configured secret nothing verifies: an empty HMAC key is no secret at all.
    """
    secret = settings.whoop_client_secret
    signature = headers.get(SIGNATURE_HEADER, "")
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    if not (secret and signature and timestamp):
        raise Unauthorized("Missing or bad Whoop signature")
    expected = expected_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise Unauthorized("Missing or bad Whoop signature")
    webhook_checks.check_timestamp(timestamp, milliseconds=True)


def event_key(note: WhoopNotification) -> str:
    """Whoop's identity of an event: its type and resource id (a redelivery repeats both)."""
    return f"{note.type}:{note.id}"


def receive(settings: Settings, headers: Mapping[str, str], body: bytes) -> str:
    """Verify and read a delivery; returns the inbox key. 401 or 400 when it is not Whoop's."""
    verify(settings, headers, body)
    return event_key(webhook_checks.parse_body(WhoopNotification, body))


async def handle(ctx: VendorContext, db: AsyncSession, event: WebhookEvent) -> None:
    """Inbox handler: a ``recovery.updated`` becomes the day's HRV for every active link of
    that Whoop account. Other event types are acknowledged and ignored."""
    note = WhoopNotification.model_validate_json(event.body)
    if note.type != RECOVERY_UPDATED:
        return
    for device in await devices.active_devices(db, Provider.WHOOP, note.user_id):
        try:
            await _store_recovery(ctx, db, device, note.id)
        except DeviceUnusable:
            continue  # marked reauth_required (committed with this event) or unlinked


async def _store_recovery(
    ctx: VendorContext, db: AsyncSession, device: LinkedDevice, sleep_id: str
) -> None:
    sleep = await devices.fetch_as_athlete(
        ctx, db, device, f"/v2/activity/sleep/{quote(sleep_id, safe='')}"
    )
    if sleep is None:
        return  # deleted at Whoop since the notification
    cycle_id = sleep.get("cycle_id")
    if isinstance(cycle_id, bool) or not isinstance(cycle_id, int | str) or not str(cycle_id):
        raise VendorError("Whoop sleep without a cycle_id")
    recovery = await devices.fetch_as_athlete(
        ctx, db, device, f"/v2/cycle/{quote(str(cycle_id), safe='')}/recovery"
    )
    if recovery is None:
        return
    membership = await devices.device_membership(db, device)
    reading = recovery_hrv(sleep, recovery)
    if membership is None or reading is None:
        return
    woke_at, rmssd = reading
    day: date = day_of(woke_at, team_zone(membership.team))
    await hrv.record(db, membership, day, rmssd, HrvSource.WHOOP)


def recovery_hrv(
    sleep: Mapping[str, Any], recovery: Mapping[str, Any]
) -> tuple[datetime, float] | None:
    """When the athlete woke and the recovery's rMSSD, if Whoop has scored it; else None
    (``PENDING_SCORE`` and ``UNSCORABLE`` recoveries carry no usable HRV)."""
    if recovery.get("score_state") != SCORED:
        return None
    score = recovery.get("score")
    rmssd = devices.plausible_rmssd(
        score.get("hrv_rmssd_milli") if isinstance(score, dict) else None
    )
    woke_at = _instant(sleep.get("end"))
    if rmssd is None or woke_at is None:
        return None
    return woke_at, rmssd


def _instant(value: object) -> datetime | None:
    """An RFC 3339 instant from Whoop (``Z`` or an offset); None if absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
