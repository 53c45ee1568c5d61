"""Vendor webhooks for linked devices: verify, store in the inbox, acknowledge at once.

The vendor's resource is fetched later by the inbox job (with retries), so an answer never
waits on a vendor. Which vendors receive here, and how each verifies, is the registry's
(:data:`app.services.integrations.registry.WEBHOOKS`); Oura's subscription handshake is
the one route of its own. ``/webhooks/gps/{team_id}`` is a separate route
(``app.routers.gps``).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from app.db import Db
from app.deps import AppSettings
from app.errors import DomainError, NotFound
from app.schemas import devices as schemas
from app.schemas.base import problem_responses
from app.services.integrations import inbox, oura, registry

router = APIRouter(tags=["webhooks"])

ProviderName = Annotated[str, Path(description="`whoop` or `oura`; any other is a 404.")]

MAX_BODY_BYTES = 64 * 1024  # a notification is a few hundred bytes


class PayloadTooLarge(DomainError):
    status = 413
    title = "Payload too large"


_BODY_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The vendor's notification, verified over the raw bytes.",
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        webhook.notification.model_json_schema()
                        for webhook in registry.WEBHOOKS.values()
                    ]
                }
            }
        },
    },
    "parameters": [
        {"name": name, "in": "header", "required": False, "schema": {"type": "string"}}
        for webhook in registry.WEBHOOKS.values()
        for name in webhook.headers
    ],
}


async def _raw_body(request: Request) -> bytes:
    """The exact bytes the vendor signed, refusing oversized bodies before reading them all."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"A notification is at most {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/webhooks/{provider}",
    operation_id="receive_webhook",
    status_code=202,
    response_model=schemas.WebhookReceipt,
    responses=problem_responses(400, 401, 404, 413),
    openapi_extra=_BODY_SCHEMA,
)
async def receive(
    provider: ProviderName, request: Request, db: Db, settings: AppSettings
) -> schemas.WebhookReceipt:
    """A ``whoop`` or ``oura`` notification, signed by the vendor instead of a bearer token.

    A bad or missing signature, or a timestamp more than five minutes off, is a 401; a body
    that is not the vendor's JSON is a 400. The event is stored before the 202; a
    redelivery of the same event answers ``duplicate`` and is processed once.
    """
    name = provider.lower()
    webhook = registry.WEBHOOKS.get(name)
    if webhook is None:
        raise NotFound(f"No webhook for provider {provider[:40]!r}")
    body = await _raw_body(request)
    key = webhook.receive(settings, request.headers, body)
    new = await inbox.store(db, name, key, body)
    return schemas.WebhookReceipt(status="queued" if new else "duplicate")


@router.get(
    "/webhooks/oura",
    operation_id="verify_oura_webhook",
    response_model=schemas.OuraChallenge,
    responses=problem_responses(401, 422),
)
async def verify_oura(
    settings: AppSettings,
    challenge: Annotated[str, Query(max_length=1000)],
    verification_token: Annotated[str, Query(max_length=1000)] = "",
) -> schemas.OuraChallenge:
    """Oura's handshake when a subscription is created: echo the challenge if the token is
    ours (``LOADLINE_OURA_VERIFICATION_TOKEN``), else 401."""
    oura.check_verification_token(settings, verification_token)
    return schemas.OuraChallenge(challenge=challenge)
