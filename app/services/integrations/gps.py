"""GPS bridges (Catapult, STATSports or any other) pushing summaries to ``/webhooks/gps/{team_id}``.

A delivery is signed with the team's own secret, in Loadline's own scheme
(:mod:`app.services.platform.signing`):
``X-Loadline-Signature: sha256=<hex HMAC-SHA256(secret, X-Loadline-Timestamp + "." + raw body)>``.
:func:`receive` checks it over the raw bytes, refuses stale timestamps (replays), checks
the body's shape and stores the delivery in the inbox; :func:`handle`, run by the inbox
job, turns its events into external load. The figures travel in the body, so unlike
Whoop or Oura there is no vendor API to call.
"""

import hashlib
import json
import logging
import secrets
import time
from datetime import date

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import DomainError, Unauthorized
from app.models import ExternalLoadSource, Team, WebhookEvent
from app.schemas.external_loads import GpsDelivery
from app.services.integrations import gps_secret, inbox
from app.services.integrations.context import VendorContext
from app.services.loads import athletes
from app.services.loads import external as external_loads
from app.services.loads.athletes import Roster
from app.services.loads.external import NewLoad
from app.services.platform import signing
from app.services.platform.days import team_zone, today

logger = logging.getLogger("loadline.gps")

PROVIDER = "gps"
TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1024 * 1024


class MalformedBody(DomainError):
    status = 400
    title = "Malformed body"


def timestamp_fresh(timestamp: str | None, now: float) -> bool:
    """Epoch seconds within five minutes of now, either way: older deliveries are replays."""
    if timestamp is None or not timestamp.strip().isdigit():
        return False
    return abs(now - int(timestamp)) <= TOLERANCE_SECONDS


def parse_delivery(body: bytes) -> GpsDelivery:
    """The documented ``{"events": [...]}``; anything else is a 400 naming the first fault."""
    try:
        return GpsDelivery.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise MalformedBody(f"Not a GPS delivery: {where}: {first['msg']}") from None


async def receive(
    db: AsyncSession,
    settings: Settings,
    team_id: int,
    body: bytes,
    signature_header: str | None,
    timestamp: str | None,
) -> int:
    """Authenticate and store one delivery; returns its number of events.

    An unknown team, a team without a secret and a wrong signature give the same 401, and
    take the same work (a signature is computed with a throwaway key), so a caller learns
    nothing about which teams exist. The inbox key is the body's hash: a redelivery of the
    same body is stored once; events repeated in other bodies are deduplicated by their
    event_id when processed.
    """
    if not timestamp_fresh(timestamp, time.time()):
        raise Unauthorized("The timestamp is missing or more than 5 minutes off")
    assert timestamp is not None
    team = await db.get(Team, team_id)
    secret = gps_secret.webhook_secret(settings, team) if team is not None else None
    matches = signing.signature_matches(
        secret or secrets.token_hex(32), timestamp.strip(), body, signature_header
    )
    if secret is None or not matches:
        raise Unauthorized("Missing or bad signature")
    delivery = parse_delivery(body)
    if delivery.events:
        key = f"{team_id}:{hashlib.sha256(body).hexdigest()}"
        await inbox.store(db, PROVIDER, key, body, team_id)
    return len(delivery.events)


async def handle(ctx: VendorContext, db: AsyncSession, event: WebhookEvent) -> None:
    """Process one stored delivery (the inbox job calls this, in its transaction).

    Each event becomes an ExternalLoad keyed by its event_id (once per team, whatever the
    number of deliveries); the days touched are recomputed and EXTERNAL ACWR marked dirty.
    Events that cannot count (unknown athlete_ref, a future day) are skipped and logged,
    without holding back the others. ``ctx`` is unused: the delivery carries the figures.
    """
    team = await db.get(Team, event.team_id) if event.team_id is not None else None
    if team is None:
        return
    delivery = parse_delivery(event.body)
    roster = await athletes.load_roster(db, team.id)
    loads, problems = _loads_of(delivery, roster, today(team_zone(team)))
    stored = await external_loads.store_loads(db, team.id, ExternalLoadSource.WEBHOOK, loads)
    await external_loads.recompute_touched(db, team.id, stored)
    if problems:
        _report(team.id, event, problems)


def _loads_of(
    delivery: GpsDelivery, roster: Roster, local_today: date
) -> tuple[list[NewLoad], list[str]]:
    loads: list[NewLoad] = []
    problems: list[str] = []
    for item in delivery.events:
        membership_id = roster.by_ref.get(item.athlete_ref)
        if membership_id is None:
            problems.append(f"event {item.event_id!r}: unknown athlete_ref {item.athlete_ref!r}")
            continue
        day_problem = external_loads.day_problem(item.date, local_today)
        if day_problem is not None:
            problems.append(f"event {item.event_id!r}: {day_problem}")
            continue
        loads.append(
            NewLoad(
                membership_id=membership_id,
                day=item.date,
                event_key=item.event_id,
                player_load=item.player_load,
                distance_m=item.distance_m,
                hsr_m=item.hsr_m,
                sprints=item.sprints,
            )
        )
    return loads, problems


def _report(team_id: int, event: WebhookEvent, problems: list[str]) -> None:
    """One log line per delivery, and the note on the inbox row for admins."""
    logger.warning(
        json.dumps(
            {
                "event": "gps_events_skipped",
                "team_id": team_id,
                "inbox_id": event.id,
                "skipped": problems,
            }
        )
    )
    event.last_error = "; ".join(problems)[:2000]
