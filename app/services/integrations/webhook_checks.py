"""What every vendor webhook receiver checks before a notification enters the inbox: that
its body is the vendor's JSON (else a 400, never a 5xx) and that its signed timestamp is
recent (else a 401: an old signature is a replay).

A receiver (``whoop.receive``, ``oura.receive``) is a :data:`Receiver`: it verifies the
vendor's signature over the raw bytes and returns the event's inbox key.
"""

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from app.config import Settings
from app.errors import Unauthorized
from app.models.base import utcnow
from app.services.integrations.errors import BadRequest

MAX_SKEW = timedelta(minutes=5)  # webhook timestamps further off are refused

Receiver = Callable[[Settings, Mapping[str, str], bytes], str]

M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], body: bytes) -> M:
    """The vendor's JSON as ``model``; anything else is a 400 (never a 5xx)."""
    try:
        return model.model_validate_json(body)
    except ValidationError:
        raise BadRequest("The body is not the vendor's JSON") from None


def check_timestamp(stamp: str, *, milliseconds: bool, now: datetime | None = None) -> None:
    """Refuse a signature timestamp more than :data:`MAX_SKEW` away from now (replays)."""
    try:
        value = float(stamp.strip())
    except ValueError:
        raise Unauthorized("Bad webhook timestamp") from None
    seconds = value / 1000 if milliseconds else value
    moment = (now or utcnow()).timestamp()
    if not abs(moment - seconds) <= MAX_SKEW.total_seconds():
        raise Unauthorized("Webhook timestamp too far from now")
