"""Outbound webhooks as owners create and list them."""

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from app.schemas.base import Schema

Event = Literal["alert.created", "status.changed", "availability.changed", "reminder.due"]
EVENTS_DESCRIPTION = (
    "What to receive; each delivery's `data`:\n\n"
    "- `alert.created`: the alert, as `GET /teams/{team_id}/alerts` shows it.\n"
    "- `status.changed`: a member's roster status changed (`{membership_id, user_id, "
    "previous_status, status, changed_at}`); a member's first status counts as a change "
    "from `no_data`.\n"
    "- `availability.changed`: a member's availability of today changed, because a stage "
    "was recorded, a problem resolved, or a new day began a stage recorded in advance "
    "(`{membership_id, previous, availability, date}`, the availabilities `available`, "
    "`modified` or `unavailable`, `date` today in the team's zone); a member's first "
    "availability other than `available` counts as a change from `available`. No clinical "
    "field is ever sent.\n"
    "- `reminder.due`: a player is reminded to report (`{membership_id, user_id, kind, "
    "session_id}`, `kind` `wellness` (at the team's `reminders.wellness_at`, `session_id` "
    "null) or `srpe` (`reminders.srpe_after_minutes` after that session's end)); at most one "
    "per member, kind and day or session.\n\n"
    "Status and availability are compared every minute, so an event follows a write, or "
    "the start of a day in the team's zone, within a minute."
)


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
        Field(min_length=1, max_length=4, description=EVENTS_DESCRIPTION),
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
