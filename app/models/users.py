"""Accounts and their refresh tokens."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt


class User(CreatedAt, Base):
    """A person. ``password_hash`` is null for an account staff created and nobody claimed yet."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(default=False)

    @property
    def is_claimed(self) -> bool:
        return self.password_hash is not None


class RefreshToken(CreatedAt, Base):
    """One issued refresh token, stored as a hash.

    Tokens rotate: using one marks it used and issues a successor in the same family.
    A used token presented again means it leaked, so the whole family is revoked.
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Password attempts counted per email or client address, within a window.

    In the database, not in memory, so that every API replica counts the same attempts.
    ``key`` is a kind (``email-ip:``, ``email:``, ``ip:``, ``register-ip:``, ``reset-email:``,
    ``reset-ip:``, or ``known:`` for an address the account signed in from, whose window
    starts at its last success) and a keyed hash of the value: the table never holds what
    was typed into the username field (sometimes a password).
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    attempts: Mapped[int]
    window_start: Mapped[datetime] = mapped_column(index=True)


class Invitation(CreatedAt, Base):
    """A single-use token with which the person staff added claims their account.

    Issued when staff add an email that has no account, and again on request (the earlier
    one revoked). Only its SHA-256 is stored: the token is shown once, in the answer that
    issued it, and in the invitation email.
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int | None] = mapped_column(
        ForeignKey("team_memberships.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class PasswordReset(CreatedAt, Base):
    """A single-use password reset token, valid an hour; stored as its SHA-256."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
