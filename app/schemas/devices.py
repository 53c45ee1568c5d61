"""Linked devices (Whoop, Oura) and the vendors' webhook notifications."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from app.models import DeviceStatus, Provider
from app.schemas.base import Schema


class AuthorizationUrl(Schema):
    """Where to send the athlete to grant access; the ``state`` in it expires in minutes."""

    authorization_url: str


class Device(Schema):
    """A linked vendor account. Its tokens are never part of any answer."""

    id: int
    provider: Provider
    external_user_id: str = Field(description="The athlete's user id at the vendor.")
    status: DeviceStatus = Field(
        description="`reauth_required`: the vendor refused to refresh access; link again."
    )
    linked_at: datetime


class WebhookReceipt(Schema):
    """The event is stored (or was already): the vendor's resource is fetched later, by a job."""

    status: Literal["queued", "duplicate"]


class OuraChallenge(Schema):
    challenge: str


def _id_text(value: Any) -> Any:
    """Vendors send ids as numbers (Whoop user ids, v1 ids) or strings (UUIDs): keep text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


VendorId = Annotated[
    str,
    BeforeValidator(_id_text),
    Field(min_length=1, max_length=100),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 100}]}),
]
Word = Annotated[str, Field(min_length=1, max_length=64)]


class VendorBody(BaseModel):
    """A vendor's JSON: fields we rely on are checked, fields it may add later are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class WhoopNotification(VendorBody):
    """Whoop API v2 webhook body; ``id`` is the resource's id (for recoveries, the sleep's)."""

    user_id: VendorId
    id: VendorId
    type: Word
    trace_id: str | None = Field(default=None, max_length=100)


class OuraNotification(VendorBody):
    """Oura API v2 webhook body. ``event_time`` tells two changes of one record apart."""

    event_type: Word
    data_type: Word
    object_id: VendorId
    user_id: VendorId
    event_time: str | None = Field(default=None, max_length=64)
