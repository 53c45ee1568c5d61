"""Alerts: a flag on a member for one day, explained by the numbers that raised it."""

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt


class AlertKind(enum.StrEnum):
    ACWR_HIGH = "ACWR_HIGH"
    ACWR_DANGER = "ACWR_DANGER"
    WELLNESS_RED = "WELLNESS_RED"
    HRV_DROP = "HRV_DROP"
    HRV_BELOW_NORMAL = "HRV_BELOW_NORMAL"
    MISSING_SRPE = "MISSING_SRPE"
    HEALTH_PROBLEM_REPORTED = "HEALTH_PROBLEM_REPORTED"  # an athlete's own report, to triage


class Severity(enum.StrEnum):
    AMBER = "amber"
    RED = "red"


class Alert(CreatedAt, Base):
    """At most one per (member, kind, day). ``evidence`` = ``{rule, params, inputs}``."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("membership_id", "kind", "date"),
        Index(None, "team_id", "acknowledged_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE")
    )
    kind: Mapped[AlertKind] = mapped_column(Enum(AlertKind, native_enum=False, length=24))
    date: Mapped[dt.date]
    severity: Mapped[Severity] = mapped_column(
        Enum(Severity, native_enum=False, length=8, values_callable=lambda e: [m.value for m in e])
    )
    message: Mapped[str] = mapped_column(String(500))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
