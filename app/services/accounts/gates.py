"""Sign-in, registration's throttle and token refresh: the account steps that own their
transactions, so each takes the ``async_sessionmaker``, not the request's session.

What they keep cannot ride on the request's transaction, which rolls back when the
request fails:

- a sign-in attempt and a registration are counted, and committed, before the password
  is checked or the account created (``throttles``), so a refused one counts as well and
  concurrent guesses see each other's count;
- a sign-in holds no transaction through the quarter second of the password's verify
  (on SQLite a transaction holds the write lock);
- a refresh token presented a second time revokes its family, committed although the
  request fails with 401;
- a password reset's confirm reads its token, then hashes the new password with no
  transaction open, then spends the token in a transaction of its own.
"""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.services.accounts import passwords, resets, throttles, tokens
from app.services.accounts import service as accounts


async def admit_registration(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *, ip: str | None
) -> None:
    """Count a registration from ``ip`` in a transaction of its own, committed before the
    registration runs (so a refused one, a 409, counts too); 429 past the limit."""
    async with sessionmaker.begin() as gate:
        await throttles.admit_registration(gate, settings, ip=ip)


async def sign_in(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    email: str,
    password: str,
    ip: str | None,
) -> tokens.TokenPair:
    """The password grant: a new token pair for the right email and password; 401 otherwise,
    429 when the throttle refuses the attempt.

    The attempt is counted and committed before the password is checked: a wrong one rolls
    back the sign-in's own transaction, and concurrent guesses must see each other's count.
    """
    async with sessionmaker.begin() as gate:
        await throttles.admit(gate, settings, email=email, ip=ip)
    async with sessionmaker() as db:
        found = await accounts.credentials(db, email)
        await db.rollback()  # a read only: hold no transaction through the slow verify
        user = await accounts.authenticate(db, found, password)
        await throttles.succeeded(db, settings, email=email, ip=ip)
        pair = await tokens.issue(db, settings, user.id)
        await db.commit()
    return pair


async def refresh(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, refresh_token: str
) -> tokens.TokenPair:
    """Trade a refresh token for a new pair, in a transaction of its own: a used token
    presented again revokes its family, and that revocation is committed although the
    caller gets a 401 (``tokens.RefreshTokenReused``)."""
    async with sessionmaker() as db:
        try:
            pair = await tokens.rotate(db, settings, refresh_token)
        except tokens.RefreshTokenReused:
            await db.commit()  # keep the revocation although the request fails
            raise
        await db.commit()
    return pair


async def confirm_password_reset(
    sessionmaker: async_sessionmaker[AsyncSession], *, token: str, password: str
) -> None:
    """Set a new password with a reset token: 400 naming ``token`` for a bad, used or expired
    one; 422 naming ``password`` for one the policy refuses, the token left usable.

    The token is checked before the password is hashed (a bogus token costs no Argon2 run),
    and no transaction is held through the hash; the token is then spent conditionally, so
    of two confirms racing with it only one sets its password.
    """
    async with sessionmaker() as db:
        found = await resets.find(db, token)
        await db.rollback()  # a read only: hold no transaction through the slow hash
    passwords.check(password, email=found.email)
    password_hash = await accounts.hash_off_loop(password)
    async with sessionmaker.begin() as db:
        await resets.spend(db, found, password_hash)
