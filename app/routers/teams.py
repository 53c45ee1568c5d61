"""Teams, their load settings and seasons."""

import builtins

from fastapi import APIRouter

from app.db import Session
from app.deps import CurrentUser, MemberOf, OwnerOf, StaffOf
from app.models import Team
from app.schemas import teams as schemas
from app.schemas.base import problem_responses
from app.services import sessions
from app.services import teams as service

router = APIRouter(prefix="/teams", tags=["teams"])


def team_out(team: Team) -> schemas.Team:
    return schemas.Team(
        id=team.id,
        name=team.name,
        timezone=team.timezone,
        created_at=team.created_at,
        acwr=schemas.AcwrSettings(
            method=team.acwr_method,
            acute_days=team.acwr_acute_days,
            chronic_days=team.acwr_chronic_days,
            low=team.acwr_low,
            high=team.acwr_high,
            danger=team.acwr_danger,
        ),
    )


@router.post(
    "",
    operation_id="create_team",
    status_code=201,
    response_model=schemas.Team,
    responses=problem_responses(401, 422),
)
async def create(body: schemas.TeamCreate, user: CurrentUser, session: Session) -> schemas.Team:
    """Create a team; the caller becomes its owner."""
    return team_out(
        await service.create_team(session, user, name=body.name, timezone=body.timezone)
    )


@router.get(
    "",
    operation_id="list_teams",
    response_model=builtins.list[schemas.Team],
    responses=problem_responses(401),
)
async def list(user: CurrentUser, session: Session) -> builtins.list[schemas.Team]:
    """The caller's teams (every team, for an admin)."""
    return [team_out(team) for team in await service.list_teams(session, user)]


@router.get(
    "/{team_id}",
    operation_id="get_team",
    response_model=schemas.Team,
    responses=problem_responses(401, 404),
)
async def get(access: MemberOf) -> schemas.Team:
    return team_out(access.team)


@router.patch(
    "/{team_id}",
    operation_id="update_team",
    response_model=schemas.Team,
    responses=problem_responses(401, 403, 404, 422),
)
async def update(body: schemas.TeamUpdate, access: OwnerOf, session: Session) -> schemas.Team:
    """Owners rename the team, move its time zone or change its ACWR settings (partially)."""
    changes = body.model_dump(exclude_unset=True, exclude={"acwr"})
    if body.acwr is not None:
        changes |= service.acwr_changes(access.team, body.acwr.model_dump(exclude_unset=True))
    if await service.update_team(session, access.team, changes):
        await sessions.redate(session, access.team)
    return team_out(access.team)


@router.post(
    "/{team_id}/seasons",
    operation_id="create_season",
    status_code=201,
    response_model=schemas.Season,
    responses=problem_responses(401, 403, 404, 422),
)
async def create_season(
    body: schemas.SeasonCreate, access: StaffOf, session: Session
) -> schemas.Season:
    season = await service.create_season(session, access.team, **body.model_dump())
    return schemas.Season.model_validate(season)


@router.get(
    "/{team_id}/seasons",
    operation_id="list_seasons",
    response_model=builtins.list[schemas.Season],
    responses=problem_responses(401, 404),
)
async def list_seasons(access: MemberOf, session: Session) -> builtins.list[schemas.Season]:
    return [
        schemas.Season.model_validate(s) for s in await service.list_seasons(session, access.team)
    ]
