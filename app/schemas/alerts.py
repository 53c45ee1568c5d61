"""Alerts as staff read them."""

import datetime as dt
from typing import Any

from pydantic import Field

from app.models import AlertKind, Severity
from app.schemas.base import Schema


class Alert(Schema):
    id: int
    team_id: int
    membership_id: int
    kind: AlertKind
    date: dt.date = Field(description="The member's day the alert is about (team's zone).")
    severity: Severity
    message: str
    evidence: dict[str, Any] = Field(
        description="Why it was raised: {rule, params, inputs}, with the numbers it saw."
    )
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: int | None = Field(description="The user id of who acknowledged it.")
