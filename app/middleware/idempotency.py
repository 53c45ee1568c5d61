"""``Idempotency-Key`` on POST: a repeat by the same user gets the first answer, not a redo.

Pure ASGI so that the stored answer is byte-for-byte the one first sent. The key is
reserved in its own transaction before the request runs, so two concurrent repeats
cannot both do the work: the second gets a 409 while the first is in flight.
"""

import hashlib
import json
from collections.abc import MutableMapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.errors import Unauthorized
from app.services import crypto, idempotency, tokens

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
        user_id = self._user_id(scope, headers)
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
            async with sessionmaker.begin() as session:
                claim = await idempotency.claim(session, user_id, key, digest)
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
            await _send_stored(
                send,
                claim.record.status_code or 200,
                claim.record.content_type,
                crypto.decrypt_bytes(scope["app"].state.settings, claim.record.body or b""),
            )
            return
        await self._forward(scope, send, sessionmaker, user_id, key, body)

    async def _forward(
        self,
        scope: Scope,
        send: Send,
        sessionmaker: async_sessionmaker[AsyncSession],
        user_id: int,
        key: str,
        body: bytes,
    ) -> None:
        captured: dict[str, Any] = {"status": 500, "content_type": None, "body": b""}
        held: list[MutableMapping[str, Any]] = []
        sent_body = False

        async def replay_receive() -> Message:
            nonlocal sent_body
            if sent_body:
                return {"type": "http.disconnect"}
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture_send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        captured["content_type"] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            held.append(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        except BaseException:
            async with sessionmaker.begin() as session:
                await idempotency.release(session, user_id, key)
            raise
        # Stored before the answer leaves, so an immediate retry is replayed, not "busy".
        async with sessionmaker.begin() as session:
            if captured["status"] >= 500:
                await idempotency.release(session, user_id, key)
            else:
                await idempotency.store(
                    session,
                    user_id,
                    key,
                    captured["status"],
                    captured["content_type"],
                    # Encrypted: a stored answer may hold a secret shown once.
                    crypto.encrypt_bytes(scope["app"].state.settings, captured["body"]),
                )
        for message in held:
            await send(message)


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
