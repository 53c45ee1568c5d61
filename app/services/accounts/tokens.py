"""Access tokens (JWT, signed with joserfc, Authlib's JOSE library) and rotating refresh tokens."""

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Unauthorized
from app.models import RefreshToken
from app.models.base import utcnow
from app.schemas.base import MAX_ID

ALGORITHM = "HS256"
ISSUER = "loadline"


class RefreshTokenReused(Unauthorized):
    """A used refresh token came back. Its family is revoked; the caller must commit that."""


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def derive_key(settings: Settings, purpose: str) -> bytes:
    """A separate 256-bit key per purpose, so a token of one kind never verifies as another."""
    return _derive(settings.secret_key, purpose)


def _derive(secret_key: str, purpose: str) -> bytes:
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


def _jwt_key(settings: Settings) -> OctKey:
    return _octet_key(settings.secret_key, "access-token")


@functools.lru_cache(maxsize=16)
def _octet_key(secret_key: str, purpose: str) -> OctKey:
    """Built once per secret: every authenticated request verifies a token, and importing
    a key (joserfc first rules out PEM, DER, SSH and X.509 forms) cost ~50 µs each time.
    Keyed on the strings, not the settings, so another secret (a test's, a rotated one)
    gets its own key; a few entries are plenty."""
    return OctKey.import_key(_derive(secret_key, purpose))


def encode_access_token(settings: Settings, user_id: int) -> str:
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "iss": ISSUER,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=settings.access_token_minutes)).timestamp()),
    }
    return jwt.encode({"alg": ALGORITHM}, claims, _jwt_key(settings))


def decode_access_token(settings: Settings, token: str) -> int:
    """The user id of a valid, unexpired access token for this audience; else 401."""
    try:
        decoded = jwt.decode(token, _jwt_key(settings), algorithms=[ALGORITHM])
        jwt.JWTClaimsRegistry(
            exp={"essential": True},
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": settings.jwt_audience},
            sub={"essential": True},
        ).validate(decoded.claims)
        user_id = int(decoded.claims["sub"])
    except (JoseError, ValueError, TypeError) as exc:
        raise Unauthorized("Invalid or expired access token") from exc
    # Ids are 32-bit keys: a ``sub`` beyond them names no account, and handing it to the
    # database would fail there (an integer out of range) instead of as a bad token.
    if not 0 < user_id <= MAX_ID:
        raise Unauthorized("Invalid or expired access token")
    return user_id


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(
    db: AsyncSession, settings: Settings, user_id: int, family: str | None = None
) -> TokenPair:
    """A new access token and a refresh token in ``family`` (a new family at login)."""
    refresh = secrets.token_urlsafe(32)
    db.add(
        RefreshToken(
            user_id=user_id,
            token_hash=_hash(refresh),
            family=family or secrets.token_hex(16),
            expires_at=utcnow() + timedelta(days=settings.refresh_token_days),
        )
    )
    await db.flush()
    return TokenPair(
        access_token=encode_access_token(settings, user_id),
        refresh_token=refresh,
        expires_in=settings.access_token_minutes * 60,
    )


async def rotate(db: AsyncSession, settings: Settings, refresh_token: str) -> TokenPair:
    """Trade a refresh token for a new pair. A token used twice revokes its whole family."""
    stored = await db.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == _hash(refresh_token))
        .with_for_update()
    )
    now = utcnow()
    if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
        raise Unauthorized("Invalid or expired refresh token")
    if stored.used_at is not None:
        await db.execute(
            update(RefreshToken)
            .where(RefreshToken.family == stored.family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        await db.flush()
        raise RefreshTokenReused("Refresh token already used; sign in again")
    stored.used_at = now
    return await issue(db, settings, stored.user_id, family=stored.family)
