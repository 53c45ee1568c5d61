"""External (GPS) load: the signed webhook's body, the team's webhook secret, CSV imports."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.base import Schema

MAX_EVENTS = 1000
MAX_PLAYER_LOAD = 100_000.0
MAX_DISTANCE_M = 1_000_000.0
MAX_SPRINTS = 10_000

PlayerLoad = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_PLAYER_LOAD,
        strict=True,
        allow_inf_nan=False,
        description="Accelerometer load in arbitrary units (Catapult PlayerLoad or equivalent).",
    ),
]
Metres = Annotated[float, Field(ge=0, le=MAX_DISTANCE_M, strict=True, allow_inf_nan=False)]


class GpsEvent(BaseModel):
    """One GPS summary (an activity or a day) of one athlete.

    Unknown fields are ignored rather than refused: bridges add metrics of their own, and
    a delivery must not bounce because of a field this service does not use.
    """

    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(
        min_length=1,
        max_length=200,
        description="The sender's id of this summary; a repeated id is counted once per team.",
    )
    athlete_ref: str = Field(
        min_length=1, max_length=128, description="The member's external_ref in this team."
    )
    date: dt.date = Field(strict=True, description="The day the load counts on, YYYY-MM-DD.")
    player_load: PlayerLoad
    distance_m: Metres | None = None
    hsr_m: Metres | None = Field(None, description="High-speed running distance in metres.")
    sprints: int | None = Field(None, ge=0, le=MAX_SPRINTS, strict=True)


class GpsDelivery(BaseModel):
    """A GPS bridge's delivery: up to 1000 summaries."""

    model_config = ConfigDict(extra="ignore")

    events: list[GpsEvent] = Field(max_length=MAX_EVENTS)


class GpsReceived(Schema):
    received: int = Field(description="Events in the delivery; they are processed shortly.")


class WebhookSecret(Schema):
    secret: str = Field(
        description="Signs GPS webhook deliveries (HMAC-SHA256). Shown only in this answer; "
        "creating a new one replaces it."
    )


class ImportRowError(Schema):
    line: int = Field(description="Line in the file, the header being line 1.")
    message: str


class ImportResult(Schema):
    """Every data row is counted once: ``rows = imported + skipped + len(errors)``."""

    rows: int = Field(description="Data rows read (blank lines excepted).")
    imported: int = Field(description="Rows stored as new load.")
    skipped: int = Field(
        description="Rows already imported (the same file before), and period or drill rows "
        "of an athlete's day that also has a whole-session row."
    )
    errors: list[ImportRowError] = Field(
        description="Rows not imported because their athlete or values could not be read."
    )
