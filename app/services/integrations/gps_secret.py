"""The team's GPS webhook secret: made by an owner, stored encrypted, read to check a
delivery's signature (``app.services.integrations.gps``)."""

import logging
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Team
from app.services.platform import crypto

logger = logging.getLogger("loadline.gps")


async def create_webhook_secret(db: AsyncSession, settings: Settings, team: Team) -> str:
    """A new random secret for the team's GPS webhook; it replaces the old one at once.

    Only its encryption is stored, so the plain secret exists in this one answer.
    """
    secret = secrets.token_urlsafe(32)
    team.gps_webhook_secret_enc = crypto.encrypt(settings, secret)
    await db.flush()
    return secret


def webhook_secret(settings: Settings, team: Team) -> str | None:
    """The team's secret in plain text, or None when it has none (or no key opens it)."""
    if team.gps_webhook_secret_enc is None:
        return None
    try:
        return crypto.decrypt(settings, team.gps_webhook_secret_enc)
    except crypto.DecryptionError:
        logger.warning('{"event": "gps_secret_unreadable", "team_id": %d}', team.id)
        return None
