"""Reminders sent: one row per (member, kind, occasion), so a reminder goes out once.

The unique key is the exactly-once guarantee: whichever worker inserts the row sends the
reminder; another worker's insert of the same key does nothing (``ON CONFLICT DO NOTHING``).
"""

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt


class ReminderKind(enum.StrEnum):
    WELLNESS = "wellness"
    SRPE = "srpe"


class Reminder(CreatedAt, Base):
    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("membership_id", "kind", "occasion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE")
    )
    kind: Mapped[ReminderKind] = mapped_column(
        Enum(
            ReminderKind,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    occasion: Mapped[str] = mapped_column(
        String(32),
        doc="The local day (YYYY-MM-DD) of a wellness reminder, the session id of an sRPE one.",
    )
    day: Mapped[dt.date] = mapped_column(doc="The team's local day the reminder is for.")
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[dt.datetime]
