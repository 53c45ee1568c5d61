"""Coach views: the roster with each player's status, and the morning dashboard."""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic_core import to_json

from app.db import Db
from app.deps import StaffViewOf
from app.schemas import roster as schemas
from app.schemas.alerts import Alert
from app.schemas.base import MAX_DATE, MIN_DATE, IsoDay, problem_responses
from app.services.coach import dashboard, roster

router = APIRouter(tags=["coach"])


def _entry(player: roster.PlayerStatus) -> dict[str, Any]:
    """One roster entry, shaped as ``RosterEntry`` (the values come from the database
    through the service; see ``get_roster`` for why this is not a model)."""
    membership, user = player.membership, player.user
    acwr, entry = player.latest_acwr, player.wellness_today
    return {
        "membership_id": membership.id,
        "user": {"id": user.id, "full_name": user.full_name, "email": user.email},
        "role": membership.role,
        "primary_position": membership.primary_position,
        "jersey_number": membership.jersey_number,
        "latest_acwr": {"date": acwr.date, "ratio": acwr.ratio, "zone": acwr.zone}
        if acwr
        else None,
        "wellness_today": {"date": entry.date, "total": entry.total, "flag": entry.flag}
        if entry
        else None,
        "hrv_flag": player.hrv_flag,
        "status": player.status,
        "availability": player.availability,
        "health_summary": player.health_summary,
        "reasons": [reason.as_dict() for reason in player.reasons],
    }


@router.get(
    "/teams/{team_id}/roster",
    operation_id="get_roster",
    response_model=None,
    responses=problem_responses(401, 403, 404, 422)
    | {200: {"model": list[schemas.RosterEntry], "description": "Successful Response"}},
)
async def get_roster(access: StaffViewOf, db: Db) -> Response:
    """The team's active players with their latest ACWR, today's wellness, HRV flag and
    status, and today's availability with the summary of their open health problems.

    Staff only. The number of SQL statements does not depend on the team's size.
    """
    # Serialised straight from the service's values (the schema above documents them, and
    # tests check answers against it): building and validating 40 entries' models again
    # cost more than the rest of the request's Python.
    entries = [_entry(p) for p in await roster.player_statuses(db, access.team)]
    return Response(to_json(entries), media_type="application/json")


@router.get(
    "/teams/{team_id}/dashboard",
    operation_id="get_dashboard",
    response_model=schemas.Dashboard,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_dashboard(
    access: StaffViewOf,
    db: Db,
    date: Annotated[
        dt.date | None,
        IsoDay,
        Query(
            ge=MIN_DATE,
            le=MAX_DATE,
            description="The report's day (default today in the team's zone; not in the future).",
        ),
    ] = None,
) -> schemas.Dashboard:
    """The morning report: status, availability and health summary, today's check-in,
    28-day attendance and compliance per player, how many players are available, modified
    and unavailable, who has not checked in, and the team's open (unacknowledged) alerts."""
    data = await dashboard.morning_report(db, access.team, date)
    return schemas.Dashboard(
        date=data.date,
        players=[
            schemas.DashboardPlayer(
                membership_id=p.player.membership.id,
                full_name=p.player.user.full_name,
                status=p.player.status,
                reasons=[schemas.Reason(**r.as_dict()) for r in p.player.reasons],
                wellness_submitted=p.wellness_submitted,
                attendance=schemas.AttendanceCounts(
                    present=p.attendance.present,
                    late=p.attendance.late,
                    absent=p.attendance.absent,
                    excused=p.attendance.excused,
                    rate=p.attendance.rate,
                ),
                compliance=schemas.Compliance(
                    srpe=p.attendance.srpe_compliance,
                    wellness=p.wellness_compliance,
                    srpe_7d=p.attendance.srpe_compliance_7d,
                    wellness_7d=p.wellness_compliance_7d,
                ),
                availability=p.player.availability,
                health_summary=p.player.health_summary,
            )
            for p in data.players
        ],
        availability_counts=schemas.AvailabilityCounts(**data.availability_counts),
        wellness_missing=data.wellness_missing,
        open_alerts=[Alert.model_validate(a) for a in data.open_alerts],
    )
