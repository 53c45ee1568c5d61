"""Password reset by email: a single-use token valid an hour, stored as its SHA-256.

A request never tells whether the email has an account (contract, Auth): the answer is
the same 202, and both paths do the same work as far as practical: the throttle's
counting, the lookup, a token drawn and hashed and the email rendered and encrypted; only
the two INSERTs (the reset and the outbox message) are left out for an unknown email, which
no client can tell apart from the database's own jitter. Unclaimed accounts (staff added
them, nobody registered) get no reset either: they are claimed with their invitation.

A confirm spends the token with one conditional UPDATE (two confirms racing with it: one
wins), sets the password, revokes every refresh token of the account (whoever held the
old password is signed out once their access token expires) and spends the account's
other open resets.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import DomainError
from app.models import PasswordReset, RefreshToken, User
from app.models.base import utcnow
from app.services.accounts import invitations, throttles
from app.services.accounts import service as accounts
from app.services.email import outbox
from app.services.platform import crypto

VALID_FOR = timedelta(hours=1)
TEMPLATE = "password_reset"


class BadResetToken(DomainError):
    """400 naming ``token``: unknown, used or expired (one answer for all three)."""

    def __init__(self) -> None:
        super().__init__(
            "This password reset token is not valid (wrong, used or expired): ask for a new one",
            field=("body", "token"),
        )


@dataclass(frozen=True)
class Found:
    """An open reset, as read before the password is hashed."""

    reset_id: int
    user_id: int
    email: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def request(db: AsyncSession, settings: Settings, *, email: str, ip: str | None) -> None:
    """Email a reset token to ``email`` if it is a claimed account and the throttle allows
    it; otherwise the same steps with nothing kept. Never raises for who the email is."""
    admitted = await throttles.admit_reset(db, settings, email=email, ip=ip)
    user = await accounts.get_by_email(db, email)
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + VALID_FOR
    context = {
        "full_name": user.full_name if user is not None else "",
        "email": accounts.normalise_email(email),
        "token": token,
        "expires_at": invitations.email_time(expires_at),
    }
    if not admitted or user is None or not user.is_claimed:
        # The work enqueue would do (render, encrypt), its result dropped.
        rendered = outbox.render(TEMPLATE, context["email"], context)
        crypto.encrypt_bytes(settings, (rendered.text + rendered.html).encode())
        _hash(token)
        return
    db.add(PasswordReset(user_id=user.id, token_hash=_hash(token), expires_at=expires_at))
    await db.flush()
    await outbox.enqueue(
        db, settings, template=TEMPLATE, to=user.email, context=context, user_id=user.id
    )


async def find(db: AsyncSession, token: str) -> Found:
    """The open reset of ``token``; 400 naming ``token`` when there is none. A read only:
    the caller checks and hashes the new password before spending it (:func:`spend`)."""
    row = (
        await db.execute(
            select(PasswordReset.id, User.id, User.email)
            .join(User, User.id == PasswordReset.user_id)
            .where(
                PasswordReset.token_hash == _hash(token),
                PasswordReset.used_at.is_(None),
                PasswordReset.expires_at > utcnow(),
            )
        )
    ).one_or_none()
    if row is None:
        raise BadResetToken()
    return Found(reset_id=row[0], user_id=row[1], email=row[2])


async def spend(db: AsyncSession, found: Found, password_hash: str) -> None:
    """Spend the reset, set the password, revoke the account's refresh tokens and spend its
    other open resets; 400 if the reset was spent (or expired) since :func:`find`.

    The conditional UPDATE is what makes it single-use under concurrency: a second confirm
    waits for the first's row lock (PostgreSQL), then finds the reset used.
    """
    now = utcnow()
    spent = await db.scalar(
        update(PasswordReset)
        .where(
            PasswordReset.id == found.reset_id,
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(used_at=now)
        .returning(PasswordReset.id)
    )
    if spent is None:
        raise BadResetToken()
    await db.execute(
        update(User).where(User.id == found.user_id).values(password_hash=password_hash)
    )
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == found.user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await db.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == found.user_id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    await db.flush()
