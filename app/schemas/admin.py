"""What administrators see of the service's own machinery."""

import datetime as dt

from app.models import InboxStatus
from app.schemas.base import Schema


class WebhookEvent(Schema):
    """A stored vendor event; the body is not shown (it may carry personal data)."""

    id: int
    provider: str
    event_key: str
    team_id: int | None
    received_at: dt.datetime
    status: InboxStatus
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    processed_at: dt.datetime | None
