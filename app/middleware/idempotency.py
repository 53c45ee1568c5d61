"""``Idempotency-Key`` on POST: a repeat by the same user gets the first answer, not a redo.

Pure ASGI so that the stored answer is byte-for-byte the one first sent. The key is
reserved in its own transaction before the request runs, so two concurrent repeats
cannot both do the work: the second gets a 409 while the first is in flight.

A repeat is authorised again under today's rules (contract, Roles): it runs as a dry run,
its transaction rolled back whatever happens (``app.db.DRY_RUN``), and the stored answer
is sent only when today's run would still be allowed (:func:`_still_allowed`); otherwise
the caller gets today's answer. A deactivated owner repeating the creation of a webhook
then gets a 404, not the stored 201 with its secret.
"""

import hashlib
import json
from collections.abc import MutableMapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.db import DRY_RUN
from app.errors import ACCESS_REFUSED, Unauthorized
from app.models import IdempotencyKey
from app.services.accounts import tokens
from app.services.platform import crypto, idempotency

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key_bytes = headers.get(HEADER)
        if key_bytes is None:  # most POSTs: nothing to do, not even a token decode
            await self.app(scope, receive, send)
            return
        key = key_bytes.decode("latin-1")
        if not 0 < len(key) <= MAX_KEY_LENGTH:  # as documented, whoever sends it
            await _problem(
                send,
                422,
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
                loc=["header", "Idempotency-Key"],
            )
            return
        user_id = None if _public(scope["path"]) else self._user_id(scope, headers)
        if user_id is None:  # anonymous POSTs (register, token) are not replayed
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        digest = hashlib.sha256(
            b"\n".join([scope["path"].encode(), scope.get("query_string", b""), _canonical(body)])
        ).hexdigest()
        await self._run(scope, send, user_id, key, digest, body)

    @staticmethod
    def _user_id(scope: Scope, headers: dict[bytes, bytes]) -> int | None:
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        settings: Settings = scope["app"].state.settings
        try:
            return tokens.decode_access_token(settings, token.strip())
        except Unauthorized:
            return None

    async def _run(
        self, scope: Scope, send: Send, user_id: int, key: str, digest: str, body: bytes
    ) -> None:
        sessionmaker: async_sessionmaker[AsyncSession] = scope["app"].state.sessionmaker
        try:
            async with sessionmaker.begin() as db:
                claim = await idempotency.claim(db, user_id, key, digest)
        except IntegrityError:
            claim = idempotency.Claim("busy")
        if claim.outcome == "mismatch":
            await _problem(
                send,
                422,
                "This Idempotency-Key was used with a different request",
                loc=["header", "Idempotency-Key"],
            )
            return
        if claim.outcome == "busy":
            await _problem(
                send, 409, "A request with this Idempotency-Key is still being processed"
            )
            return
        if claim.outcome == "replay" and claim.record is not None:
            await self._replay(scope, send, claim.record, body)
            return
        await self._forward(scope, send, sessionmaker, user_id, key, body)

    async def _replay(self, scope: Scope, send: Send, record: IdempotencyKey, body: bytes) -> None:
        """The stored answer if today's rules still allow the request, else today's answer."""
        today = _Captured()
        dry_run = {**scope, DRY_RUN: True}
        await self.app(dry_run, _body_once(body), today.send)
        if not _still_allowed(today.status, refused=bool(dry_run.get(ACCESS_REFUSED))):
            await today.deliver(send)
            return
        stored = crypto.decrypt_bytes(scope["app"].state.settings, record.body or b"")
        if 200 <= today.status < 300:
            stored = _seen_today(stored, today.body)
        await _send_stored(send, record.status_code or 200, record.content_type, stored)

    async def _forward(
        self,
        scope: Scope,
        send: Send,
        sessionmaker: async_sessionmaker[AsyncSession],
        user_id: int,
        key: str,
        body: bytes,
    ) -> None:
        captured = _Captured()
        try:
            await self.app(scope, _body_once(body), captured.send)
        except BaseException:
            async with sessionmaker.begin() as db:
                await idempotency.release(db, user_id, key)
            raise
        # Stored before the answer leaves, so an immediate retry is replayed, not "busy".
        async with sessionmaker.begin() as db:
            if captured.status >= 500:
                await idempotency.release(db, user_id, key)
            else:
                await idempotency.store(
                    db,
                    user_id,
                    key,
                    captured.status,
                    captured.content_type,
                    # Encrypted: a stored answer may hold a secret shown once.
                    crypto.encrypt_bytes(scope["app"].state.settings, captured.body),
                )
        await captured.deliver(send)


class _Captured:
    """An answer held back: its status and content type read, its messages kept to send."""

    def __init__(self) -> None:
        self.status = 500
        self.content_type: str | None = None
        self.body = b""
        self.messages: list[MutableMapping[str, Any]] = []

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            for name, value in message.get("headers", []):
                if name.lower() == b"content-type":
                    self.content_type = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
        self.messages.append(message)

    async def deliver(self, send: Send) -> None:
        for message in self.messages:
            await send(message)


def _body_once(body: bytes) -> Receive:
    """A ``receive`` that hands the app the body already read, then a disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _seen_today(stored: bytes, today: bytes) -> bytes:
    """The stored answer without the fields today's answer leaves out.

    What a caller may see can shrink without the request being refused: a physio made a
    coach is still staff, but no longer reads a problem's clinical fields. Today's dry
    run answers with the fields today's rules show; the stored values are kept for those
    (ids of what the first request created stay the stored ones), the others are dropped.
    """
    try:
        kept, shown = json.loads(stored), json.loads(today)
    except (ValueError, UnicodeDecodeError):
        return stored
    if isinstance(kept, dict) and isinstance(shown, dict):
        return _encoded({name: value for name, value in kept.items() if name in shown})
    if isinstance(kept, list) and isinstance(shown, list) and shown and isinstance(shown[0], dict):
        names = set(shown[0])
        return _encoded(
            [
                {n: v for n, v in item.items() if n in names} if isinstance(item, dict) else item
                for item in kept
            ]
        )
    return stored


def _encoded(value: Any) -> bytes:
    """JSON as the app sends it (compact, UTF-8)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _still_allowed(status: int, *, refused: bool) -> bool:
    """Does today's dry run of a repeat allow sending the stored answer?

    A 2xx: the request would be done again. A 409 that is no refusal of the caller: what
    the first request did is now in the way (the member it added exists), which is what a
    repeat is expected to meet. Anything else (401, 403, 404 or the caller's own inactive
    membership: the right or the resource is gone; a 422 under today's rules; a 5xx) is
    today's answer and is sent instead of the stored one.
    """
    return not refused and (200 <= status < 300 or status == 409)


# The POSTs that authenticate by their body or a signature, not by the bearer token: a
# bearer header sent along (clients add it to every call) does not make them the user's.
# They are never stored or replayed, and never run as a dry run, which matters: they
# count attempts, or revoke a reused refresh token's family, in transactions of their own.
PUBLIC_POSTS = ("/auth/register", "/auth/token", "/auth/refresh", "/auth/password-reset")


def _public(path: str) -> bool:
    return path.startswith(PUBLIC_POSTS) or path.startswith("/webhooks/")


def _canonical(body: bytes) -> bytes:
    """The same JSON with other spacing or key order is the same request."""
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        return body


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_stored(send: Send, status: int, content_type: str | None, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode()), (b"idempotent-replayed", b"true")]
    if content_type:
        headers.append((b"content-type", content_type.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _problem(send: Send, status: int, detail: str, loc: list[str] | None = None) -> None:
    titles = {409: "Conflict", 422: "Validation error"}
    payload: dict[str, Any] = {
        "type": "about:blank",
        "title": titles[status],
        "status": status,
        "detail": detail,
    }
    if loc is not None:
        payload["errors"] = [{"loc": loc, "msg": detail, "type": "value_error"}]
    await _send_stored(send, status, "application/problem+json", json.dumps(payload).encode())
