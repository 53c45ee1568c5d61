"""Outbound webhooks as owners create and list them."""

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from app.schemas.base import Schema

Event = Literal["alert.created", "status.changed"]


class OutboundWebhookCreate(Schema):
    url: Annotated[
        str,
        Field(
            min_length=1,
            max_length=2000,
            description="An http(s) URL; loopback and private networks are refused.",
        ),
    ]
    events: Annotated[
        list[Event],
        Field(
            min_length=1,
            max_length=2,
            description="`alert.created` and/or `status.changed` (a member's roster status).",
        ),
    ]


class OutboundWebhook(Schema):
    id: int
    url: str
    events: list[Event]
    created_at: dt.datetime


class OutboundWebhookCreated(Schema):
    id: int
    url: str
    events: list[Event]
    secret: str = Field(
        description="Signs every delivery (X-Loadline-Signature). Shown only in this answer."
    )
