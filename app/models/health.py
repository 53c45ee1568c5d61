"""Athlete health: injuries and illnesses with their availability stages, and the weekly
OSTRC-H2 answers (IOC consensus, Bahr et al. 2020; Clarsen et al. 2013, 2020).

The clinical fields of a problem (diagnosis, OSIICS code, clinical notes) are read and
written by the team's MEDICAL staff alone (the athlete reads their own); ``summary`` is
the text meant for the coaches. Every table carries ``team_id`` (sharding by team).
"""

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UTCDateTime, utcnow


class ProblemKind(enum.StrEnum):
    INJURY = "INJURY"
    ILLNESS = "ILLNESS"


class ProblemContext(enum.StrEnum):
    TRAINING = "TRAINING"
    MATCH = "MATCH"
    OTHER = "OTHER"


class BodyArea(enum.StrEnum):
    HEAD = "HEAD"
    NECK = "NECK"
    SHOULDER = "SHOULDER"
    UPPER_ARM = "UPPER_ARM"
    ELBOW = "ELBOW"
    FOREARM = "FOREARM"
    WRIST = "WRIST"
    HAND = "HAND"
    CHEST = "CHEST"
    THORACIC_SPINE = "THORACIC_SPINE"
    LUMBAR_SPINE = "LUMBAR_SPINE"
    ABDOMEN = "ABDOMEN"
    PELVIS = "PELVIS"
    HIP_GROIN = "HIP_GROIN"
    THIGH = "THIGH"
    KNEE = "KNEE"
    LOWER_LEG = "LOWER_LEG"
    ANKLE = "ANKLE"
    FOOT = "FOOT"
    MULTIPLE = "MULTIPLE"
    UNSPECIFIED = "UNSPECIFIED"


class Side(enum.StrEnum):
    LEFT = "LEFT"
    RIGHT = "RIGHT"
    BOTH = "BOTH"
    NONE = "NONE"


class Mechanism(enum.StrEnum):
    ACUTE = "ACUTE"
    GRADUAL = "GRADUAL"


class Availability(enum.StrEnum):
    """A problem's stage, most restrictive first."""

    UNAVAILABLE = "UNAVAILABLE"
    MODIFIED = "MODIFIED"
    FULL = "FULL"


def _enum(kind: type[enum.StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, length=16)


class HealthProblem(CreatedAt, Base):
    """One injury or illness of a member, from its onset until it is resolved."""

    __tablename__ = "health_problems"
    __table_args__ = (
        CheckConstraint("resolved_on IS NULL OR resolved_on >= onset_date", "resolved"),
        CheckConstraint("expected_return IS NULL OR expected_return >= onset_date", "return"),
        Index(None, "membership_id", "onset_date"),
        Index(None, "team_id", "onset_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE")
    )
    kind: Mapped[ProblemKind] = mapped_column(_enum(ProblemKind))
    onset_date: Mapped[dt.date]
    context: Mapped[ProblemContext] = mapped_column(_enum(ProblemContext))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_sessions.id", ondelete="SET NULL"), index=True
    )
    body_area: Mapped[BodyArea | None] = mapped_column(_enum(BodyArea))
    side: Mapped[Side | None] = mapped_column(_enum(Side))
    mechanism: Mapped[Mechanism | None] = mapped_column(_enum(Mechanism))
    summary: Mapped[str | None] = mapped_column(Text, doc="For the coaches.")
    expected_return: Mapped[dt.date | None]
    resolved_on: Mapped[dt.date | None]
    reported_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), doc="The user who recorded it."
    )
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Clinical: MEDICAL staff and the athlete only.
    diagnosis: Mapped[str | None] = mapped_column(Text)
    osiics_code: Mapped[str | None] = mapped_column(String(16))
    clinical_notes: Mapped[str | None] = mapped_column(Text)


class HealthStage(Base):
    """The problem's availability from ``from_date`` on (until the next stage)."""

    __tablename__ = "health_problem_stages"
    __table_args__ = (UniqueConstraint("problem_id", "from_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    problem_id: Mapped[int] = mapped_column(ForeignKey("health_problems.id", ondelete="CASCADE"))
    from_date: Mapped[dt.date]
    availability: Mapped[Availability] = mapped_column(_enum(Availability))


class OstrcAnswer(CreatedAt, Base):
    """One member's OSTRC-H2 answers for an ISO week, about one problem (or none).

    ``problem_key`` is the problem's id, or 0 for an answer about no problem, so that the
    unique key (member, week, problem) holds on every database (NULLs are all distinct).
    """

    __tablename__ = "ostrc_answers"
    __table_args__ = (
        UniqueConstraint("membership_id", "week", "problem_key"),
        CheckConstraint("q1 BETWEEN 0 AND 3 AND q4 BETWEEN 0 AND 3", "q1_q4"),
        CheckConstraint("q2 BETWEEN 0 AND 4 AND q3 BETWEEN 0 AND 4", "q2_q3"),
        Index(None, "team_id", "week"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE")
    )
    week: Mapped[str] = mapped_column(String(8), doc="ISO week, YYYY-Www.")
    week_monday: Mapped[dt.date]
    problem_id: Mapped[int | None] = mapped_column(
        ForeignKey("health_problems.id", ondelete="SET NULL")
    )
    problem_key: Mapped[int] = mapped_column(default=0)
    q1: Mapped[int]
    q2: Mapped[int]
    q3: Mapped[int]
    q4: Mapped[int]
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
