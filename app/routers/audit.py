"""The audit log's two readers: a team's owners, and the athlete about themselves."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.db import Db
from app.deps import CurrentUser, OwnerOf
from app.schemas import audit as schemas
from app.schemas.base import MAX_ID, FromDay, Limit, Offset, ToDay, problem_responses
from app.services.audit import service
from app.services.platform.days import team_zone

router = APIRouter(tags=["privacy"])

FilterId = Annotated[int | None, Query(ge=-MAX_ID, le=MAX_ID, description="Only this id.")]


def entry_out(seen: service.Seen) -> schemas.AuditEntry:
    entry = seen.entry
    return schemas.AuditEntry(
        id=entry.id,
        at=entry.at,
        actor_user_id=entry.actor_user_id,
        actor_full_name=seen.actor_full_name,
        action=entry.action,
        resource=entry.resource,
        team_id=entry.team_id,
        membership_id=entry.membership_id,
        resource_id=entry.resource_id,
        request_id=entry.request_id,
    )


@router.get(
    "/teams/{team_id}/audit",
    operation_id="list_team_audit",
    response_model=list[schemas.AuditEntry],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_team_audit(
    access: OwnerOf,
    db: Db,
    membership_id: FilterId = None,
    actor_user_id: FilterId = None,
    from_: FromDay = None,
    to: ToDay = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[schemas.AuditEntry]:
    """Who read or changed the health data of the team's members, and every team view,
    export and erasure (owners only).

    ``from`` and ``to`` are days in the team's time zone, both included (no default: the
    whole log); ``from`` after ``to`` -> 422. ``membership_id`` and ``actor_user_id`` keep
    only that athlete's or that user's entries.

    Oldest first (then by id): entries are only ever appended, so a full page never
    changes, and paging with ``offset`` neither skips nor repeats an entry.
    """
    entries = await service.team_log(
        db,
        access.team.id,
        team_zone(access.team),
        membership_id=membership_id,
        actor_user_id=actor_user_id,
        start=from_,
        end=to,
        page=service.Page(limit, offset),
    )
    return [entry_out(seen) for seen in entries]


@router.get(
    "/auth/me/audit",
    operation_id="list_my_audit",
    response_model=list[schemas.AuditEntry],
    responses=problem_responses(401, 422),
)
async def list_my_audit(
    user: CurrentUser,
    db: Db,
    from_: FromDay = None,
    to: ToDay = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[schemas.AuditEntry]:
    """Who read or changed the caller's own health data, in every team they are or were a
    member of (their own reads of their health problems and OSTRC answers included).

    ``from`` and ``to`` are UTC days (the teams' zones may differ), both included; ``from``
    after ``to`` -> 422. Team-wide views name no athlete and are not listed here. Oldest
    first (then by id), as the team's log.
    """
    entries = await service.own_log(
        db, user.id, start=from_, end=to, page=service.Page(limit, offset)
    )
    return [entry_out(seen) for seen in entries]
