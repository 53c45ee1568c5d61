"""Invitations: the token with which the person staff added claims their account.

Staff adding an email that has no account create the account without a password; whoever
registers that email must then show a token sent to it (contract, Auth). Without this,
anyone who guessed an address a coach had added became that team's member.

A token is random (256 bits), shown once (in the answer that issued it, and in the
invitation email) and stored as its SHA-256 only. It is valid :data:`VALID_FOR`, works
once, and issuing a new one for the same membership revokes the open one. Claiming spends
it with one conditional UPDATE, so two registrations racing with one token cannot both
succeed.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Conflict
from app.models import Invitation, Team, TeamMembership, User
from app.models.base import utcnow
from app.services.email import outbox

VALID_FOR = timedelta(days=7)
FIELD = ("body", "invitation_token")


@dataclass(frozen=True)
class Issued:
    """A new invitation token, to show once."""

    token: str
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def email_time(moment: datetime) -> str:
    """How an email writes an expiry: UTC, to the minute (the reader's zone is unknown)."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


async def issue(
    db: AsyncSession,
    settings: Settings,
    *,
    team: Team,
    membership: TeamMembership,
    user: User,
    inviter: User,
) -> Issued:
    """A new token for ``membership`` (of the unclaimed ``user``), revoking the open one,
    and its email in the outbox, all in the caller's transaction: the email goes out if
    and only if the invitation is committed."""
    now = utcnow()
    await db.execute(
        update(Invitation)
        .where(
            Invitation.membership_id == membership.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = secrets.token_urlsafe(32)
    issued = Issued(token=token, expires_at=now + VALID_FOR)
    db.add(
        Invitation(
            team_id=team.id,
            user_id=user.id,
            membership_id=membership.id,
            token_hash=token_hash(token),
            expires_at=issued.expires_at,
        )
    )
    await db.flush()
    await outbox.enqueue(
        db,
        settings,
        template="invitation",
        to=user.email,
        context={
            "full_name": user.full_name,
            "email": user.email,
            "team_name": team.name,
            "inviter_name": inviter.full_name,
            "token": token,
            "expires_at": email_time(issued.expires_at),
        },
        user_id=user.id,
        team_id=team.id,
    )
    return issued


async def claim(db: AsyncSession, user: User, token: str | None) -> None:
    """Spend ``token``, which must be a valid invitation of ``user``; 409 naming
    ``invitation_token`` otherwise (missing, unknown, another account's, used, revoked or
    expired: one answer, so it tells nothing about other accounts' tokens).

    One conditional UPDATE: of two claims racing with the same token, the second finds it
    used (PostgreSQL re-reads the row once the first commits; SQLite runs them one after
    the other). The account's other open invitations (from other teams) are revoked: it is
    claimed now, they would only be a way in for whoever reads those emails later.
    """
    if not token:
        raise Conflict(
            "This email was added by a team's staff: register it with the invitation token "
            "sent to it",
            field=FIELD,
        )
    now = utcnow()
    spent = await db.scalar(
        update(Invitation)
        .where(
            Invitation.token_hash == token_hash(token),
            Invitation.user_id == user.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(used_at=now)
        .returning(Invitation.id)
    )
    if spent is None:
        raise Conflict(
            "This invitation token is not valid for this email (wrong, used, revoked or "
            "expired): ask the team's staff for a new one",
            field=FIELD,
        )
    await db.execute(
        update(Invitation)
        .where(
            Invitation.user_id == user.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    await db.flush()
