"""What the vendor adapters (Whoop, Oura, GPS bridges) get from outside: settings and the
one HTTP client for every vendor call (:class:`VendorContext`).

Each adapter module exposes ``async def handle(ctx, session, event)`` for its inbox
events; :func:`app.services.integrations.registry.inbox_handlers` binds them to a
context for the inbox job.
"""

from dataclasses import dataclass

import httpx

from app.config import Settings

VENDOR_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class VendorContext:
    """What adapters need from outside: settings and one HTTP client (a fake in tests)."""

    settings: Settings
    http: httpx.AsyncClient

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        """The client's transport, for libraries (Authlib) that build their own client."""
        return self.http._transport


def new_http_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, timeout=VENDOR_TIMEOUT, follow_redirects=False)
