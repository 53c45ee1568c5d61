"""The audit log: who read or changed an athlete's health data, and every export and erasure.

Append-only: no route changes or deletes an entry, and the database refuses to (triggers
made by migration 0010 on both PostgreSQL and SQLite). No foreign keys, so that nothing
cascading from a team, a membership or an account can take an entry with it.
"""

import enum
from datetime import datetime

from sqlalchemy import Enum, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class AuditAction(enum.StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"
    ERASE = "erase"


class AuditResource(enum.StrEnum):
    HEALTH_PROBLEM = "health_problem"
    OSTRC = "ostrc"
    WELLNESS = "wellness"
    HRV = "hrv"
    TEAM_VIEW = "team_view"
    MEMBER = "member"


def _enum(kind: type[enum.StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        Index(None, "team_id", "at"),
        Index(None, "membership_id", "at"),
        Index(None, "actor_user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(doc="Null for the service's own jobs.")
    action: Mapped[AuditAction] = mapped_column(_enum(AuditAction))
    resource: Mapped[AuditResource] = mapped_column(_enum(AuditResource))
    team_id: Mapped[int]
    membership_id: Mapped[int | None] = mapped_column(
        doc="The athlete whose data it was; null for a team view (roster, dashboard, reports)."
    )
    resource_id: Mapped[int | None]
    request_id: Mapped[str | None] = mapped_column(String(128))
