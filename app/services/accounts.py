"""Accounts: registration (including claiming an account staff created), login, lookup."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.errors import Conflict, NotFound, Unauthorized
from app.models import TeamMembership, User

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("loadline-timing-equaliser")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == normalise_email(email)))


async def register(session: AsyncSession, *, email: str, password: str, full_name: str) -> User:
    """Create an account, or claim the one staff created for this email (and its memberships)."""
    user = await get_by_email(session, email)
    if user is not None and user.is_claimed:
        raise Conflict("An account with this email already exists", field=("body", "email"))
    if user is None:
        user = User(email=normalise_email(email), full_name=full_name)
        session.add(user)
    else:
        user.full_name = full_name
    user.password_hash = hash_password(password)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, *, email: str, password: str) -> User:
    """The user for these credentials; 401 for a wrong password, unknown or unclaimed email."""
    user = await get_by_email(session, email) if "\x00" not in email else None
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("Wrong email or password") from None
    if user is None or user.password_hash is None:
        raise Unauthorized("Wrong email or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


async def get_memberships(session: AsyncSession, user_id: int) -> list[TeamMembership]:
    rows = await session.scalars(
        select(TeamMembership)
        .options(joinedload(TeamMembership.team))
        .where(TeamMembership.user_id == user_id)
        .order_by(TeamMembership.id)
    )
    return list(rows)


async def create_admin(session: AsyncSession, email: str) -> User:
    """Make an existing, claimed account an admin.

    Never an unclaimed one: whoever registered that email first would own the admin.
    """
    user = await get_by_email(session, email)
    if user is None or not user.is_claimed:
        raise NotFound("No registered account with this email: register it first")
    user.is_admin = True
    await session.flush()
    return user


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)
