"""Outbound webhooks of a team, for its owners: create (the secret is shown once), list,
delete."""

from fastapi import APIRouter, Response

from app.db import Db
from app.deps import AppSettings, OwnerOf
from app.schemas import outbound as schemas
from app.schemas.base import PathId, problem_responses
from app.services.outbound import subscriptions

router = APIRouter(tags=["outbound-webhooks"])


@router.post(
    "/teams/{team_id}/outbound-webhooks",
    operation_id="create_outbound_webhook",
    status_code=201,
    response_model=schemas.OutboundWebhookCreated,
    responses=problem_responses(401, 403, 404, 422),
)
async def create_outbound_webhook(
    body: schemas.OutboundWebhookCreate,
    access: OwnerOf,
    db: Db,
    settings: AppSettings,
) -> schemas.OutboundWebhookCreated:
    """Subscribe a URL to the team's events. Each delivery is a signed POST of
    `{id, event, team_id, created_at, data}`, retried with backoff for 24 hours until it
    gets a 2xx. The `secret` appears only in this answer."""
    webhook, secret = await subscriptions.create_webhook(
        db, settings, access.team.id, body.url, list(body.events)
    )
    return schemas.OutboundWebhookCreated(
        id=webhook.id,
        url=webhook.url,
        events=webhook.events,
        secret=secret,
    )


@router.get(
    "/teams/{team_id}/outbound-webhooks",
    operation_id="list_outbound_webhooks",
    response_model=list[schemas.OutboundWebhook],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_outbound_webhooks(access: OwnerOf, db: Db) -> list[schemas.OutboundWebhook]:
    """The team's webhooks (without their secrets). Owners only."""
    rows = await subscriptions.list_webhooks(db, access.team.id)
    return [schemas.OutboundWebhook.model_validate(row) for row in rows]


@router.delete(
    "/teams/{team_id}/outbound-webhooks/{webhook_id}",
    operation_id="delete_outbound_webhook",
    status_code=204,
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_outbound_webhook(webhook_id: PathId, access: OwnerOf, db: Db) -> Response:
    """Stop sending to this webhook; deliveries still queued for it are dropped."""
    await subscriptions.delete_webhook(db, access.team.id, webhook_id)
    return Response(status_code=204)
