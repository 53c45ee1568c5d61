"""A ceiling on request bodies, so one request cannot fill memory or the disk.

Pure ASGI, outside everything that reads a body (the idempotency middleware, FastAPI's
parsing, multipart spooling). A declared ``Content-Length`` over the limit is refused
before any byte is read; a body without one (chunked) is counted as it streams and
refused as soon as it passes the limit. Either way the answer is a 413 problem+json.
"""

import json
import re
from collections.abc import MutableMapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services.loads.gps_csv import MAX_IMPORT_BYTES

# Routes that take more than the general limit, with the most they take. The GPS CSV
# import accepts a 5 MiB file; 64 KiB more covers the multipart framing around it.
LARGER_BODIES: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"/teams/[^/]+/external-load/import"), MAX_IMPORT_BYTES + 64 * 1024),
)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the streamed body passes the limit.

    An ``HTTPException``, so FastAPI's body parsing lets it through to the app's handler
    (rendered as problem+json) instead of calling it a malformed body.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body may be at most {limit} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def limit_for(self, path: str) -> int:
        for pattern, larger in LARGER_BODIES:
            if pattern.fullmatch(path):
                return max(self.max_bytes, larger)
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, BodyTooLarge(limit))
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watching_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge as exc:
            # Raised where no exception handler runs (a middleware reading the body).
            if started:
                raise
            await _too_large(send, exc)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _too_large(send: Send, exc: BodyTooLarge) -> None:
    body = json.dumps(
        {"type": "about:blank", "title": "Content too large", "status": 413, "detail": exc.detail}
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
