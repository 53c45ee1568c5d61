"""The daily-data spine: sessions, attendance, session-RPE, wellness and daily loads.

Tables that grow per athlete and day carry ``team_id`` so PostgreSQL can later be
sharded by team without a rewrite.
"""

import datetime as dt
import enum
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, utcnow


class SessionType(enum.StrEnum):
    RECOVERY = "RECOVERY"
    STRENGTH = "STRENGTH"
    CONDITIONING = "CONDITIONING"
    TECHNICAL = "TECHNICAL"
    TACTICAL = "TACTICAL"
    MATCH = "MATCH"


class AttendanceStatus(enum.StrEnum):
    PRESENT = "PRESENT"
    ABSENT = "ABSENT"
    EXCUSED = "EXCUSED"
    LATE = "LATE"


ATTENDED = frozenset({AttendanceStatus.PRESENT, AttendanceStatus.LATE})


class LoadSource(enum.StrEnum):
    INTERNAL = "INTERNAL"  # session-RPE
    EXTERNAL = "EXTERNAL"  # GPS PlayerLoad


def load_au_of(rpe_0_10: Decimal | float, duration_min: int) -> int:
    """``round(rpe x minutes)`` with halves rounded up, in decimal so 7.5 x 45 is 338.

    One rule for the sRPE's ``load_au`` and the session's ``planned_load_au``, so a plan and
    the load done compare on the same scale.
    """
    product = Decimal(str(rpe_0_10)) * duration_min
    return int(product.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class TrainingSession(CreatedAt, Base):
    """A planned or past session. ``day`` is the local date of ``start`` in the team's zone."""

    __tablename__ = "training_sessions"
    __table_args__ = (
        CheckConstraint('"end" > start', "ends_after_start"),
        Index(None, "team_id", "start"),
        Index(None, "team_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    season_id: Mapped[int | None] = mapped_column(
        ForeignKey("seasons.id", ondelete="SET NULL"), index=True
    )
    session_type: Mapped[SessionType] = mapped_column(
        Enum(SessionType, native_enum=False, length=16), default=SessionType.TECHNICAL
    )
    title: Mapped[str] = mapped_column(String(120))
    start: Mapped[dt.datetime]
    end: Mapped[dt.datetime]
    day: Mapped[dt.date]
    location: Mapped[str | None] = mapped_column(String(255))
    notes: Mapped[str | None] = mapped_column(Text)
    planned_rpe: Mapped[Decimal | None] = mapped_column(
        Numeric(3, 1), doc="The coach's intended RPE, 0.0 to 10.0 (checked by the API)."
    )

    @property
    def duration_min(self) -> int:
        return round((self.end - self.start).total_seconds() / 60)

    @property
    def planned_load_au(self) -> int | None:
        """``round(planned_rpe x duration_min)`` (halves up); None without a plan."""
        if self.planned_rpe is None:
            return None
        return load_au_of(self.planned_rpe, self.duration_min)


class Attendance(Base):
    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("session_id", "membership_id"),
        CheckConstraint("minutes_participated >= 0", "minutes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"))
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[AttendanceStatus] = mapped_column(
        Enum(AttendanceStatus, native_enum=False, length=10), default=AttendanceStatus.PRESENT
    )
    minutes_participated: Mapped[int] = mapped_column(default=0)


class SessionRPE(CreatedAt, Base):
    """Internal load of one member for one session: ``load_au = round(rpe x minutes)``."""

    __tablename__ = "session_rpe"
    __table_args__ = (
        UniqueConstraint("session_id", "membership_id"),
        Index(None, "membership_id", "session_id"),
        CheckConstraint("rpe_0_10 >= 0 AND rpe_0_10 <= 10", "rpe"),
        CheckConstraint("duration_min >= 1 AND duration_min <= 600", "duration"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"))
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE")
    )
    rpe_0_10: Mapped[Decimal] = mapped_column(Numeric(3, 1))
    duration_min: Mapped[int]
    load_au: Mapped[int]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WellnessLog(CreatedAt, Base):
    """A morning self-report, 1 to 5 per item, 5 best (McLean et al. 2010)."""

    __tablename__ = "wellness_logs"
    __table_args__ = (
        UniqueConstraint("membership_id", "date"),
        *(
            CheckConstraint(f"{item} BETWEEN 1 AND 5", item)
            for item in ("sleep_quality", "mood", "soreness", "stress", "fatigue")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE")
    )
    date: Mapped[dt.date]
    sleep_quality: Mapped[int]
    mood: Mapped[int]
    soreness: Mapped[int]
    stress: Mapped[int | None]
    fatigue: Mapped[int | None]
    notes: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DailyLoad(Base):
    """Roll-up per athlete and day, so load analytics never scan sessions."""

    __tablename__ = "daily_loads"
    __table_args__ = (UniqueConstraint("membership_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE")
    )
    date: Mapped[dt.date]
    internal_load_au: Mapped[int] = mapped_column(default=0)
    external_load_pl: Mapped[float] = mapped_column(default=0.0)
    attended_sessions: Mapped[int] = mapped_column(default=0, server_default="0")
    rated_sessions: Mapped[int] = mapped_column(
        default=0, server_default="0", doc="Attended sessions that have an sRPE (for coverage)."
    )


class AcwrSnapshot(Base):
    """One athlete's ACWR figures for one day and source, so reads never replay history.

    Rows start at the athlete's first day with any activity (a load or an attended
    session), so coverage shows even before the first load; the averages are null before
    the first load. ``zone`` is not stored: it follows from these values, the first load
    day and the team's thresholds.
    """

    __tablename__ = "load_acwr"

    # No foreign keys: this is derived data rewritten in bulk (millions of rows), and
    # checking two references per row would double the cost. Memberships and teams are
    # never deleted by the API (members are deactivated), and a full recompute rebuilds it.
    membership_id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[LoadSource] = mapped_column(
        Enum(LoadSource, native_enum=False, length=16), primary_key=True
    )
    date: Mapped[dt.date] = mapped_column(primary_key=True)
    team_id: Mapped[int]
    load: Mapped[float]
    acute_ewma: Mapped[float | None]
    chronic_ewma: Mapped[float | None]
    ratio: Mapped[float | None]
    ratio_coupled: Mapped[float | None]
    ratio_uncoupled: Mapped[float | None]
    coverage: Mapped[float]


class AcwrState(Base):
    """Where an athlete's ACWR series stands, and from which day it must be recomputed.

    Writes lower ``dirty_from`` in their own transaction; jobs and reads recompute from
    there, starting from the stored snapshot of the day before.
    """

    __tablename__ = "acwr_state"

    membership_id: Mapped[int] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[LoadSource] = mapped_column(
        Enum(LoadSource, native_enum=False, length=16), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    first_activity_day: Mapped[dt.date | None]
    first_load_day: Mapped[dt.date | None]
    computed_through: Mapped[dt.date | None]
    acute_ewma: Mapped[float | None]
    chronic_ewma: Mapped[float | None]
    dirty_from: Mapped[dt.date | None] = mapped_column(index=True)
