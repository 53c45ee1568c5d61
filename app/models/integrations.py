"""Wearables and GPS: linked devices, HRV, external load, and the durable webhook inbox.

Vendor tokens and webhook secrets are stored encrypted (``app.services.crypto``); the
columns ending in ``_enc`` never hold a secret in plain text.
"""

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, utcnow


class Provider(enum.StrEnum):
    """Vendors whose accounts an athlete links (OAuth) or whose data a team pushes."""

    WHOOP = "WHOOP"
    OURA = "OURA"


class HrvSource(enum.StrEnum):
    MANUAL = "MANUAL"
    WHOOP = "WHOOP"
    OURA = "OURA"


class DeviceStatus(enum.StrEnum):
    ACTIVE = "active"
    REAUTH_REQUIRED = "reauth_required"
    REVOKED = "revoked"


class InboxStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class ExternalLoadSource(enum.StrEnum):
    WEBHOOK = "WEBHOOK"  # pushed by a GPS bridge to /webhooks/gps/{team_id}
    CSV = "CSV"  # imported by staff from a Catapult or STATSports export


def _enum(kind: type[enum.Enum], length: int = 16) -> Enum:
    return Enum(
        kind, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class LinkedDevice(CreatedAt, Base):
    """An athlete's vendor account, linked through OAuth. Tokens are encrypted at rest."""

    __tablename__ = "linked_devices"
    __table_args__ = (
        UniqueConstraint("membership_id", "provider"),
        Index(None, "provider", "external_user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE")
    )
    provider: Mapped[Provider] = mapped_column(_enum(Provider))
    external_user_id: Mapped[str] = mapped_column(String(128))
    access_token_enc: Mapped[str] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[dt.datetime | None]
    scopes: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[DeviceStatus] = mapped_column(_enum(DeviceStatus), default=DeviceStatus.ACTIVE)
    linked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SpentOAuthState(Base):
    """The id (``jti``) of an OAuth ``state`` whose callback linked a device: a state is
    single-use, so a replay within its lifetime is refused. Kept until ``expires_at`` (the
    state's own expiry), after which the signature check refuses the state anyway."""

    __tablename__ = "oauth_states_spent"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class DailyHRV(CreatedAt, Base):
    """One rMSSD value per athlete, day and source (a device's value wins over MANUAL)."""

    __tablename__ = "daily_hrv"
    __table_args__ = (
        UniqueConstraint("membership_id", "date", "source"),
        Index(None, "membership_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE")
    )
    date: Mapped[dt.date]
    rmssd_ms: Mapped[float]
    ln_rmssd: Mapped[float]
    source: Mapped[HrvSource] = mapped_column(_enum(HrvSource))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ExternalLoad(CreatedAt, Base):
    """One GPS summary (an activity or a day) of an athlete; a day's rows add up.

    ``event_key`` makes each delivery or imported row count once per team.
    """

    __tablename__ = "external_loads"
    __table_args__ = (
        UniqueConstraint("team_id", "event_key"),
        Index(None, "membership_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE")
    )
    date: Mapped[dt.date]
    source: Mapped[ExternalLoadSource] = mapped_column(_enum(ExternalLoadSource))
    event_key: Mapped[str] = mapped_column(String(200))
    player_load: Mapped[float]
    distance_m: Mapped[float | None]
    hsr_m: Mapped[float | None]
    sprints: Mapped[int | None]


EVENT_KEY_LENGTH = 300  # a vendor's event identity; longer ones are stored as a hash


class WebhookEvent(Base):
    """A vendor's notification, stored before it is acknowledged and processed by a job.

    ``event_key`` is the vendor's identity of the event, so a redelivery is processed once.
    An event that keeps failing ends ``failed`` with its error: never dropped.
    """

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        UniqueConstraint("provider", "event_key"),
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_key: Mapped[str] = mapped_column(String(EVENT_KEY_LENGTH))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[InboxStatus] = mapped_column(_enum(InboxStatus), default=InboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[dt.datetime | None]
