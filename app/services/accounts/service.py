"""Accounts: registration (including claiming an account staff created with its invitation),
login, lookup."""

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple, Unpack

import anyio.to_thread
from anyio import CapacityLimiter
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.errors import Busy, Conflict, NotFound, Unauthorized
from app.models import TeamMembership, User
from app.services.accounts import invitations, passwords

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a login takes as long either way. Made
# once by ``PasswordHasher().hash(...)`` with the same parameters as ``_hasher`` (a test
# checks they still match): hashing at import took 64 MiB and a quarter of a second.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$O5FIHW609FMcFvdTOOMEJg"
    "$d6HCqE9GxGKIpG6kIewLJJ4rvrO8leslQAjaGB3PpYs"
)
# Argon2 runs in a worker thread (it releases the GIL), so one login no longer stalls every
# request in flight; one at a time, as each takes 64 MiB for its duration (the API process
# stays under 200 MB; sign-ins are rare next to token refreshes).
_ARGON2_SLOTS = CapacityLimiter(1)

T = TypeVar("T")
Args = TypeVarTuple("Args")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    """Blocks for a quarter of a second: for scripts and seeding. Requests go through
    ``_off_loop``, which runs it in a worker thread."""
    return _hasher.hash(password)


# Beyond this many waiting, a sign-in or registration is refused with 503 rather than
# queued: a flood of registrations (each hashed, even when it ends in 409) must not make
# every sign-in wait without bound.
MAX_WAITING_HASHES = 8


async def _off_loop(work: Callable[[Unpack[Args]], T], *args: *Args) -> T:
    if _ARGON2_SLOTS.statistics().tasks_waiting >= MAX_WAITING_HASHES:
        raise Busy("Too many sign-ins and registrations at once; retry in a moment")
    return await anyio.to_thread.run_sync(work, *args, limiter=_ARGON2_SLOTS)


async def hash_off_loop(password: str) -> str:
    """:func:`hash_password` in a worker thread, one at a time (503 past the queue's bound)."""
    return await _off_loop(hash_password, password)


def _verify(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored``; a malformed stored hash matches nothing."""
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def get_by_email(db: AsyncSession, email: str) -> User | None:
    return await db.scalar(select(User).where(User.email == normalise_email(email)))


async def register(
    db: AsyncSession,
    *,
    email: str,
    password: str,
    full_name: str,
    invitation_token: str | None = None,
) -> User:
    """Create an account, or claim the one staff created for this email (and its memberships)
    with a valid invitation token for it (``invitations.claim``; 409 naming
    ``invitation_token`` otherwise, the account unchanged). A token given for an email that
    has no account is refused the same way: it cannot be that email's invitation.

    Hashes before touching the database: the transaction (on SQLite, the write lock) is not
    held through the quarter second of Argon2.
    """
    passwords.check(password, email=email)
    password_hash = await hash_off_loop(password)
    user = await get_by_email(db, email)
    if user is not None and user.is_claimed:
        raise Conflict("An account with this email already exists", field=("body", "email"))
    if user is None:
        if invitation_token is not None:
            raise Conflict(
                "No invitation is open for this email: register without a token",
                field=invitations.FIELD,
            )
        user = User(email=normalise_email(email), full_name=full_name, password_hash=password_hash)
        db.add(user)
        await db.flush()
        return user
    await invitations.claim(db, user, invitation_token)
    # Conditional, so two claims of one account with two teams' tokens cannot both set a
    # password: the second finds it claimed.
    claimed = await db.scalar(
        update(User)
        .where(User.id == user.id, User.password_hash.is_(None))
        .values(full_name=full_name, password_hash=password_hash)
        .returning(User.id)
    )
    if claimed is None:
        raise Conflict("An account with this email already exists", field=("body", "email"))
    await db.refresh(user)
    return user


async def credentials(db: AsyncSession, email: str) -> tuple[int | None, str]:
    """The account id and password hash a login checks against: for an unknown or unclaimed
    email, no id and a dummy hash, so the answer takes as long either way."""
    user = await get_by_email(db, email) if "\x00" not in email else None
    if user is None or not user.password_hash:
        return None, _DUMMY_HASH
    return user.id, user.password_hash


async def authenticate(db: AsyncSession, found: tuple[int | None, str], password: str) -> User:
    """The user of :func:`credentials` if ``password`` matches; 401 otherwise.

    Call it with no transaction open (the caller ends the one that read the credentials):
    the verify takes a quarter of a second, and on SQLite a transaction holds the write lock.
    """
    user_id, stored = found
    if not await _off_loop(_verify, stored, password) or user_id is None:
        raise Unauthorized("Wrong email or password")
    # A hash made with older parameters is replaced, hashed before the transaction starts.
    rehashed = (
        await _off_loop(hash_password, password) if _hasher.check_needs_rehash(stored) else None
    )
    user = await db.get(User, user_id)
    if user is None or user.password_hash != stored:  # deleted or changed meanwhile
        raise Unauthorized("Wrong email or password")
    if rehashed is not None:
        user.password_hash = rehashed
    return user


async def get_memberships(db: AsyncSession, user_id: int) -> list[TeamMembership]:
    rows = await db.scalars(
        select(TeamMembership)
        .options(joinedload(TeamMembership.team))
        .where(TeamMembership.user_id == user_id)
        .order_by(TeamMembership.id)
    )
    return list(rows)


async def create_admin(db: AsyncSession, email: str) -> User:
    """Make an existing, claimed account an admin.

    Never an unclaimed one: whoever registered that email first would own the admin.
    """
    user = await get_by_email(db, email)
    if user is None or not user.is_claimed:
        raise NotFound("No registered account with this email: register it first")
    user.is_admin = True
    await db.flush()
    return user


async def count_users(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(User)) or 0)


async def password_matches(user: User, password: str) -> bool:
    """Whether ``password`` is the account's own, for a request that re-confirms it (the
    erasure of one's account). Off the event loop like every Argon2 verify; an account
    without a password matches nothing (the dummy hash keeps the timing alike)."""
    return bool(await _off_loop(_verify, user.password_hash or _DUMMY_HASH, password)) and bool(
        user.password_hash
    )
