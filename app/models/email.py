"""The email outbox: messages a request or a job decided to send, sent later by a job."""

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt


class EmailStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry


class EmailMessage(CreatedAt, Base):
    """One email to send. Written in the transaction that decided to send it, so it is sent
    if and only if that transaction commits; the SMTP conversation happens later, in a job,
    never inside a request.

    ``payload`` (recipient, subject, text and HTML: it may carry an invitation or reset
    token) is encrypted at rest with the token keys, and cleared once the message is sent
    or given up. ``user_id`` names whom it is about, so erasure can delete it.
    """

    __tablename__ = "email_messages"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[EmailStatus] = mapped_column(
        Enum(
            EmailStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=EmailStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
