"""Teams, their seasons and memberships."""

import enum
from datetime import date, time

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, CreatedAt
from app.models.users import User


class Role(enum.StrEnum):
    PLAYER = "PLAYER"
    COACH = "COACH"
    MEDICAL = "MEDICAL"  # physiotherapists and doctors: they hold the clinical detail
    OWNER = "OWNER"


# "Staff" read the team's views and write its athletes' data; "coaching staff" also plan
# sessions, take attendance and add players (contract, Roles). MEDICAL is staff only.
STAFF_ROLES = frozenset({Role.COACH, Role.MEDICAL, Role.OWNER})
COACHING_ROLES = frozenset({Role.COACH, Role.OWNER})


class AcwrMethod(enum.StrEnum):
    WILLIAMS = "williams"
    HALF_LIFE = "half_life"


class Team(CreatedAt, Base):
    """A squad. Its time zone decides which calendar day a session belongs to."""

    __tablename__ = "teams"
    __table_args__ = (
        CheckConstraint("acwr_acute_days >= 1 AND acwr_acute_days < acwr_chronic_days", "acute"),
        CheckConstraint("acwr_chronic_days <= 90", "chronic"),
        CheckConstraint(
            "acwr_low > 0 AND acwr_low < acwr_high AND acwr_high <= acwr_danger", "zones"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    acwr_method: Mapped[AcwrMethod] = mapped_column(
        Enum(
            AcwrMethod, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
        ),
        default=AcwrMethod.WILLIAMS,
    )
    acwr_acute_days: Mapped[int] = mapped_column(default=7)
    acwr_chronic_days: Mapped[int] = mapped_column(default=28)
    acwr_low: Mapped[float] = mapped_column(default=0.8)
    acwr_high: Mapped[float] = mapped_column(default=1.3)
    acwr_danger: Mapped[float] = mapped_column(default=1.4)
    # A unique index, not a constraint: SQLite adds an index in place, while a new
    # constraint would rebuild the table (and, with foreign keys on, cascade deletes).
    calendar_token_hash: Mapped[str | None] = mapped_column(
        String(64),
        index=True,
        unique=True,
        doc="SHA-256 of the calendar feed token; the token is shown once.",
    )
    gps_webhook_secret_enc: Mapped[str | None] = mapped_column(
        Text, doc="The GPS webhook signing secret, encrypted; shown once when created."
    )
    reminder_wellness_at: Mapped[time | None] = mapped_column(
        doc="Local time of the daily wellness reminder; null: off."
    )
    reminder_srpe_after_minutes: Mapped[int | None] = mapped_column(
        doc="Minutes after a session's end when its sRPE reminder is due; null: off."
    )


class Season(CreatedAt, Base):
    __tablename__ = "seasons"
    __table_args__ = (CheckConstraint("end_date >= start_date", "dates"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    start_date: Mapped[date]
    end_date: Mapped[date]


class TeamMembership(CreatedAt, Base):
    """A user's place in a team. Deactivating keeps every number recorded for it."""

    __tablename__ = "team_memberships"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id"),
        UniqueConstraint("team_id", "external_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    active: Mapped[bool] = mapped_column(default=True)
    primary_position: Mapped[str | None] = mapped_column(String(80))
    jersey_number: Mapped[int | None]
    external_ref: Mapped[str | None] = mapped_column(String(128))

    user: Mapped[User] = relationship(lazy="raise")
    team: Mapped[Team] = relationship(lazy="raise")

    @property
    def is_staff(self) -> bool:
        return self.active and self.role in STAFF_ROLES
