"""Teams, their load settings and seasons."""

import builtins

from fastapi import APIRouter

from app.db import Db
from app.deps import CoachingStaffOf, CurrentUser, MemberOf, OwnerOf
from app.schemas import teams as schemas
from app.schemas.base import problem_responses
from app.services.teams import service

router = APIRouter(prefix="/teams", tags=["teams"])


@router.post(
    "",
    operation_id="create_team",
    status_code=201,
    response_model=schemas.Team,
    responses=problem_responses(401, 422),
)
async def create(body: schemas.TeamCreate, user: CurrentUser, db: Db) -> schemas.Team:
    """Create a team; the caller becomes its owner."""
    return schemas.Team.of(
        await service.create_team(db, user, name=body.name, timezone=body.timezone)
    )


@router.get(
    "",
    operation_id="list_teams",
    response_model=builtins.list[schemas.Team],
    responses=problem_responses(401),
)
async def list(user: CurrentUser, db: Db) -> builtins.list[schemas.Team]:
    """The caller's teams (every team, for an admin)."""
    return [schemas.Team.of(team) for team in await service.list_teams(db, user)]


@router.get(
    "/{team_id}",
    operation_id="get_team",
    response_model=schemas.Team,
    responses=problem_responses(401, 404),
)
async def get(access: MemberOf) -> schemas.Team:
    return schemas.Team.of(access.team)


@router.patch(
    "/{team_id}",
    operation_id="update_team",
    response_model=schemas.Team,
    responses=problem_responses(401, 403, 404, 422),
)
async def update(body: schemas.TeamUpdate, access: OwnerOf, db: Db) -> schemas.Team:
    """Owners rename the team, move its time zone, or change its ACWR or reminder settings
    (partially: an object changes only the fields given)."""
    team = await service.update_team(db, access.team, body)
    return schemas.Team.of(team)


@router.post(
    "/{team_id}/seasons",
    operation_id="create_season",
    status_code=201,
    response_model=schemas.Season,
    responses=problem_responses(401, 403, 404, 422),
)
async def create_season(
    body: schemas.SeasonCreate, access: CoachingStaffOf, db: Db
) -> schemas.Season:
    """Add a season (coaches and owners)."""
    season = await service.create_season(db, access.team, body)
    return schemas.Season.model_validate(season)


@router.get(
    "/{team_id}/seasons",
    operation_id="list_seasons",
    response_model=builtins.list[schemas.Season],
    responses=problem_responses(401, 404),
)
async def list_seasons(access: MemberOf, db: Db) -> builtins.list[schemas.Season]:
    return [schemas.Season.model_validate(s) for s in await service.list_seasons(db, access.team)]
