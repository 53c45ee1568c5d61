"""Administration: the webhook inbox, so a failed vendor event is seen and can be retried."""

import builtins
from typing import Annotated

from fastapi import APIRouter, Query

from app.db import Db
from app.deps import Admin
from app.models import InboxStatus
from app.schemas import admin as schemas
from app.schemas.base import Limit, Offset, PathId, problem_responses
from app.services.integrations import inbox

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get(
    "/webhook-events",
    operation_id="list_webhook_events",
    response_model=builtins.list[schemas.WebhookEvent],
    responses=problem_responses(401, 403, 422),
)
async def list(
    _: Admin,
    db: Db,
    status: Annotated[InboxStatus | None, Query(description="Only events in this state.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> builtins.list[schemas.WebhookEvent]:
    """Stored vendor events, newest first; ``status=failed`` lists those that gave up."""
    events = await inbox.list_events(db, status, limit=limit, offset=offset)
    return [schemas.WebhookEvent.model_validate(e) for e in events]


@router.post(
    "/webhook-events/{event_id}/retry",
    operation_id="retry_webhook_event",
    response_model=schemas.WebhookEvent,
    responses=problem_responses(401, 403, 404, 409),
)
async def retry(event_id: PathId, _: Admin, db: Db) -> schemas.WebhookEvent:
    """Queue a failed event again (e.g. after the vendor or a mapping was fixed)."""
    return schemas.WebhookEvent.model_validate(await inbox.retry(db, event_id))
