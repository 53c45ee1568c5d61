"""Outbound webhooks: a team's subscriptions, the durable outbox of deliveries, and the
last roster status and availability seen per member (so ``status.changed`` and
``availability.changed`` fire on a change only)."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class OutboundWebhook(CreatedAt, Base):
    """A receiver a team's owner registered; ``secret_enc`` is Fernet-encrypted."""

    __tablename__ = "outbound_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret_enc: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)


class OutboundDelivery(CreatedAt, Base):
    """One event for one webhook, kept until delivered (or given up on after 24 hours)."""

    __tablename__ = "outbound_deliveries"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_webhooks.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(
            DeliveryStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]


class OutboundMemberStatus(Base):
    """The roster status and the availability last seen for a member, to notice a change.
    ``availability`` starts at ``available`` (what a first other one counts as a change
    from), ``status`` at ``no_data``."""

    __tablename__ = "outbound_member_statuses"

    membership_id: Mapped[int] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    availability: Mapped[str] = mapped_column(
        String(16), default="available", server_default="available"
    )
    updated_at: Mapped[datetime]
