"""Login throttling: a bounded number of password guesses per email and per client address
(and of registrations per address, and of password reset emails per email and per address,
in the same table).

Three counters: an email from one address (``login_max_attempts``, strict), an email from
all addresses (``login_max_attempts_per_email``, looser: a guesser spread over many
addresses), and an address across emails (``login_max_attempts_per_ip``, failures only).
The strict bound is per (email, address) so that a stranger's five wrong guesses do not
lock the coach out of their own account from their own phone.

The per-email bound is for strangers: an address the account signed in from within
``login_known_address_days`` (remembered by a row of its own kind, ``known:``) is let in
past it, within its strict bound. Guesses spread over many addresses are still capped per
email, and never lock the owner out where they have signed in before; from an address
new to the account, the owner waits with the guessers.

Every attempt is counted *before* its password is checked, by an upsert that increments
the counter and returns it in one statement, in a transaction of its own that is
committed before the check (the request's own transaction rolls back on a wrong
password). Concurrent guesses therefore queue on the counter's row: at most
``login_max_attempts`` of them per (email, address) are ever evaluated in a window,
whatever the number of replicas, since the counters live in the shared database.

The window is fixed, starting at the first attempt counted; an attempt after it starts
a new one. A success deletes the (email, address) counter and gives its attempt back to
the email and the address, so those two count failures only (a club's players share one
address), and an owner's sign-in during an attack does not renew the guessers' allowance.
"""

import hashlib
import hmac
import math
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import dialect_insert, dialect_name
from app.errors import DomainError
from app.models.base import utcnow
from app.models.users import LoginThrottle
from app.services.accounts import service as accounts
from app.services.accounts import tokens

PURGE_BATCH = 100


class TooManyAttempts(DomainError):
    """429 with the seconds to wait, sent as ``Retry-After``."""

    status = 429
    title = "Too many requests"

    def __init__(self, retry_after: int, what: str = "sign-in attempts") -> None:
        super().__init__(f"Too many {what}; try again in {retry_after} seconds")
        self.retry_after = retry_after


def _key(settings: Settings, kind: str, value: str) -> str:
    digest = hmac.new(
        tokens.derive_key(settings, "login-throttle"), value.encode(), hashlib.sha256
    ).hexdigest()
    return f"{kind}:{digest}"


def email_key(settings: Settings, email: str) -> str:
    return _key(settings, "email", accounts.normalise_email(email))


def ip_key(settings: Settings, ip: str) -> str:
    return _key(settings, "ip", ip)


def email_ip_key(settings: Settings, email: str, ip: str) -> str:
    return _key(settings, "email-ip", f"{accounts.normalise_email(email)}\n{ip}")


KNOWN_KIND = "known"


def known_key(settings: Settings, email: str, ip: str) -> str:
    """The mark that ``email`` signed in from ``ip`` (its window is the last success)."""
    return _key(settings, KNOWN_KIND, f"{accounts.normalise_email(email)}\n{ip}")


def _limits(settings: Settings, email: str, ip: str | None) -> list[tuple[str, int]]:
    """(Email, address), then email, then address, always in this order: concurrent
    attempts lock the counters' rows in one order. Without an address (no peer), the
    strict bound applies to the email."""
    if ip is None:
        return [(email_key(settings, email), settings.login_max_attempts)]
    limits = [
        (email_ip_key(settings, email, ip), settings.login_max_attempts),
        (email_key(settings, email), settings.login_max_attempts_per_email),
    ]
    if settings.login_max_attempts_per_ip > 0:
        limits.append((ip_key(settings, ip), settings.login_max_attempts_per_ip))
    return limits


async def _count(
    db: AsyncSession, key: str, now: datetime, window: timedelta
) -> tuple[int, datetime]:
    """Add this attempt to ``key``'s window (a new window once the old one is over);
    returns the attempts in the window and when it started."""
    expired = LoginThrottle.window_start <= now - window
    stmt = dialect_insert(db, LoginThrottle).values(key=key, attempts=1, window_start=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "attempts": case((expired, 1), else_=LoginThrottle.attempts + 1),
            "window_start": case(
                (expired, literal(now, LoginThrottle.window_start.type)),
                else_=LoginThrottle.window_start,
            ),
        },
    ).returning(LoginThrottle.attempts, LoginThrottle.window_start)
    attempts, started = (await db.execute(stmt)).one()
    return int(attempts), started


REGISTER_KIND = "register-ip"
RESET_EMAIL_KIND = "reset-email"
RESET_IP_KIND = "reset-ip"


async def _purge(db: AsyncSession, settings: Settings, now: datetime) -> None:
    """Forget a few counters whose window is over, each by its own kind's window (a
    registration counter and a known address outlive the sign-in window). Last in the
    transaction and skipping rows other attempts hold (PostgreSQL), so it never waits while
    holding a lock."""
    long_lived = {
        REGISTER_KIND: _register_window(settings),
        KNOWN_KIND: _known_window(settings),
        RESET_EMAIL_KIND: _reset_window(settings),
        RESET_IP_KIND: _reset_window(settings),
    }
    kinds = {kind: LoginThrottle.key.startswith(f"{kind}:") for kind in long_lived}
    over = or_(
        *(
            and_(kinds[kind], LoginThrottle.window_start <= now - window)
            for kind, window in long_lived.items()
        ),
        and_(~or_(*kinds.values()), LoginThrottle.window_start <= now - _login_window(settings)),
    )
    stale = select(LoginThrottle.key).where(over).limit(PURGE_BATCH)
    if dialect_name(db) == "postgresql":
        stale = stale.with_for_update(skip_locked=True)
    await db.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(stale)))


def _login_window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.login_window_minutes)


def _register_window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.register_window_minutes)


def _reset_window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.reset_window_minutes)


def _known_window(settings: Settings) -> timedelta:
    return timedelta(days=settings.login_known_address_days)


async def _is_known(
    db: AsyncSession, settings: Settings, email: str, ip: str, now: datetime
) -> bool:
    """Whether ``email`` signed in from ``ip`` within ``login_known_address_days``. A plain
    read: it locks nothing, so it adds no lock to the counters' order."""
    if settings.login_known_address_days == 0:
        return False
    found = await db.scalar(
        select(LoginThrottle.key).where(
            LoginThrottle.key == known_key(settings, email, ip),
            LoginThrottle.window_start > now - _known_window(settings),
        )
    )
    return found is not None


async def _remember(
    db: AsyncSession, settings: Settings, email: str, ip: str, now: datetime
) -> None:
    """Mark ``ip`` as known to ``email`` from now on (``attempts`` is unused for this kind)."""
    if settings.login_known_address_days == 0:
        return
    stmt = dialect_insert(db, LoginThrottle).values(
        key=known_key(settings, email, ip), attempts=1, window_start=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"], set_={"window_start": stmt.excluded.window_start}
    )
    await db.execute(stmt)


async def admit(db: AsyncSession, settings: Settings, *, email: str, ip: str | None) -> None:
    """Count a sign-in attempt, or refuse it with 429 when its email or address is over
    the limit (the caller rolls back then, so refused attempts do not extend the wait).
    Past the per-email bound, an address the account signed in from before is still let in
    within its own bounds.

    Run it in a transaction committed before the password is checked.
    """
    now = utcnow()
    window = _login_window(settings)
    waits: dict[str, float] = {}
    for key, limit in _limits(settings, email, ip):
        attempts, started = await _count(db, key, now, window)
        if attempts > limit:
            waits[key] = (started + window - now).total_seconds()
    spread = email_key(settings, email)
    if ip is not None and spread in waits and await _is_known(db, settings, email, ip, now):
        del waits[spread]
    if waits:
        raise TooManyAttempts(max(1, math.ceil(max(waits.values()))))
    await _purge(db, settings, now)


async def admit_registration(db: AsyncSession, settings: Settings, *, ip: str | None) -> None:
    """Count a registration from ``ip``, or refuse it with 429 past
    ``register_max_per_ip`` in the window. Each one costs an Argon2 hash and may create an
    account, and a 409 tells whether an email is registered: a flood from one address is
    bounded here. Committed before the registration runs, so failed ones count too."""
    if ip is None or settings.register_max_per_ip == 0:
        return
    now = utcnow()
    window = _register_window(settings)
    attempts, started = await _count(db, _key(settings, REGISTER_KIND, ip), now, window)
    if attempts > settings.register_max_per_ip:
        wait = (started + window - now).total_seconds()
        raise TooManyAttempts(max(1, math.ceil(wait)), "registrations from this address")
    await _purge(db, settings, now)


async def admit_reset(db: AsyncSession, settings: Settings, *, email: str, ip: str | None) -> bool:
    """Count a password reset request for ``email`` and from ``ip``; whether it may send an
    email (within ``reset_max_per_email`` and ``reset_max_per_ip`` in the
    window). Unknown emails are counted alike, so the count tells nothing either.

    No 429: the answer is the same 202 either way (a refusal would tell that the address
    was asked for lately); past the bound nothing is sent, so nobody can fill an inbox
    through this route. Both counters are counted every time, in one order.
    """
    now = utcnow()
    window = _reset_window(settings)
    limits = [
        (
            _key(settings, RESET_EMAIL_KIND, accounts.normalise_email(email)),
            settings.reset_max_per_email,
        ),
    ]
    if ip is not None:
        limits.append((_key(settings, RESET_IP_KIND, ip), settings.reset_max_per_ip))
    allowed = True
    for key, limit in limits:
        if limit == 0:
            continue
        attempts, _ = await _count(db, key, now, window)
        allowed = allowed and attempts <= limit
    await _purge(db, settings, now)
    return allowed


async def succeeded(db: AsyncSession, settings: Settings, *, email: str, ip: str | None) -> None:
    """The password was right: reset the strict count, give the attempt back to the email
    and the address, and remember the address as known to the account.

    The per-email count is not reset: during an attack that would hand the guessers a new
    allowance at each of the owner's sign-ins. One statement per row, in the order
    ``admit`` locks them, so a concurrent attempt never waits in the opposite order.
    """
    if ip is None:
        await db.execute(
            delete(LoginThrottle).where(LoginThrottle.key == email_key(settings, email))
        )
        await db.flush()
        return
    await db.execute(
        delete(LoginThrottle).where(LoginThrottle.key == email_ip_key(settings, email, ip))
    )
    for key in (email_key(settings, email), ip_key(settings, ip)):
        await db.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key, LoginThrottle.attempts > 0)
            .values(attempts=LoginThrottle.attempts - 1)
        )
    await _remember(db, settings, email, ip, utcnow())
    await db.flush()
