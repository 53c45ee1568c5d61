"""The team calendar: a secret feed token for staff, and the iCalendar feed it opens."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.db import Db
from app.deps import AppSettings, StaffOf
from app.schemas import calendar as schemas
from app.schemas.base import PathId, problem_responses
from app.services.training import calendar as service

router = APIRouter(tags=["calendar"])


class CalendarResponse(Response):
    media_type = "text/calendar"  # Starlette adds "; charset=utf-8"


@router.post(
    "/teams/{team_id}/calendar-token",
    operation_id="create_calendar_token",
    status_code=201,
    response_model=schemas.CalendarToken,
    responses=problem_responses(401, 403, 404),
)
async def create_calendar_token(
    access: StaffOf, db: Db, settings: AppSettings, response: Response
) -> schemas.CalendarToken:
    """A new secret token for the team's calendar feed (staff), and the feed's URL.

    The token is shown only in this answer (only its hash is stored); it revokes the
    previous token at once, so subscribers of the old URL must be given the new one.
    """
    response.headers["Cache-Control"] = "no-store"
    token = await service.create_token(db, access.team)
    return schemas.CalendarToken(token=token, url=service.feed_url(settings, access.team.id, token))


@router.get(
    "/teams/{team_id}/calendar.ics",
    operation_id="get_calendar",
    response_class=CalendarResponse,
    responses={
        200: {
            "description": "The sessions as iCalendar (RFC 5545)",
            "content": {"text/calendar": {"schema": {"type": "string"}}},
        },
        **problem_responses(404),
    },
)
async def get_calendar(
    team_id: PathId,
    db: Db,
    token: Annotated[
        str | None,
        Query(description="The feed token from POST /teams/{team_id}/calendar-token."),
    ] = None,
) -> CalendarResponse:
    """The team's sessions as an iCalendar feed, to subscribe to in a calendar app.

    Public: the token is the credential. An unknown team or a missing, wrong or revoked
    token is a 404. One event per session, with a stable UID (``session-{id}@loadline``),
    times in UTC, the type in the summary and categories, location and notes. Sessions
    that started more than 90 days ago are left out.
    """
    team = await service.team_for_token(db, team_id, token)
    body = await service.feed(db, team)
    return CalendarResponse(
        body, headers={"Cache-Control": "private, no-cache", "X-Robots-Tag": "noindex"}
    )
