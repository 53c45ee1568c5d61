"""One structured (JSON) log line and one metrics observation per request, and
``X-Request-ID`` passed through or made.

Only the method, the route template, the status, the duration and the request id are
recorded: never the raw path (it may carry ids without bound, or a secret in a path that
matches no route), the query string (``calendar.ics?token=``), a header or a body.
"""

import json
import logging
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from app.services.platform import metrics, request_context

logger = logging.getLogger("loadline.access")


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        request_context.request_id.set(request_id)
        status = 500

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            metrics.observe_request(scope["method"], route, status, seconds)
            # Checked first: json.dumps ran on every request even at WARNING, to be dropped.
            if logger.isEnabledFor(logging.INFO):
                logger.info(_line(scope["method"], route, status, seconds, request_id))


def _line(method: str, route: str, status: int, seconds: float, request_id: str) -> str:
    return json.dumps(
        {
            "event": "request",
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "request_id": request_id,
        }
    )


def route_template(scope: Scope) -> str:
    """The matched route's template (``/teams/{team_id}``); ``<unmatched>`` for a request
    that reached no route: an unknown path, or one answered before routing (a body over
    the limit, a CORS preflight, an idempotent replay)."""
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) else metrics.UNMATCHED


def _request_id(scope: Scope) -> str:
    """The caller's X-Request-ID if it is sane (printable, short), else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if 0 < len(text) <= 128 and text.isprintable():
                return text
    return uuid.uuid4().hex
