"""Audit log entries as their readers get them (contract: Privacy, "Audit log")."""

import datetime as dt

from pydantic import Field

from app.models import AuditAction, AuditResource
from app.schemas.base import Schema


class AuditEntry(Schema):
    """Who touched which health data of which member, when, in which request."""

    id: int
    at: dt.datetime = Field(description="When the request was served (UTC).")
    actor_user_id: int | None = Field(
        description="The user who made the request; null for the service's own jobs."
    )
    actor_full_name: str | None = Field(
        description="The actor's name today (not part of the stored entry: it makes the "
        "actor id mean something to an athlete); null when there is no such account."
    )
    action: AuditAction
    resource: AuditResource = Field(
        description="health_problem, ostrc, wellness, hrv, team_view (a team-wide view: "
        "roster, dashboard, alerts, reports, the health report) or member (export, erasure)."
    )
    team_id: int
    membership_id: int | None = Field(
        description="The athlete whose data it was; null for a team view."
    )
    resource_id: int | None = Field(
        description="The health problem or OSTRC answer touched; null for a list or a series."
    )
    request_id: str | None = Field(
        description="The request's X-Request-ID (null for the service's own jobs)."
    )
