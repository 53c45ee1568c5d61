"""Idempotency keys: the first answer to a POST is kept 24 hours and replayed for repeats."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import IdempotencyKey
from app.models.base import utcnow

RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class Claim:
    """Outcome of claiming a key: ``new`` (do the work), ``replay``, ``mismatch`` or ``busy``."""

    outcome: str
    record: IdempotencyKey | None = None


async def claim(db: AsyncSession, user_id: int, key: str, request_hash: str) -> Claim:
    """Reserve ``key`` for this request, or say why the stored answer applies instead."""
    existing = await db.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )
    if existing is not None and existing.created_at < utcnow() - RETENTION:
        await db.delete(existing)
        await db.flush()
        existing = None
    if existing is None:
        db.add(IdempotencyKey(user_id=user_id, key=key, request_hash=request_hash))
        await db.flush()
        return Claim("new")
    if existing.request_hash != request_hash:
        return Claim("mismatch")
    if existing.status_code is None:
        return Claim("busy")
    return Claim("replay", existing)


async def store(
    db: AsyncSession,
    user_id: int,
    key: str,
    status: int,
    content_type: str | None,
    body: bytes,
) -> None:
    record = await db.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )
    if record is not None:
        record.status_code = status
        record.content_type = content_type
        record.body = body


async def release(db: AsyncSession, user_id: int, key: str) -> None:
    """Forget a reservation whose request failed, so a retry does the work."""
    await db.execute(
        delete(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )


async def purge_expired(db: AsyncSession) -> int:
    result = await db.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - RETENTION)
    )
    return int(getattr(result, "rowcount", 0) or 0)
