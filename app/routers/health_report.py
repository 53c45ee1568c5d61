"""The team's health report: exposure, incidence and burden per 1,000 hours, weekly
prevalence."""

from fastapi import APIRouter

from app.db import Db
from app.deps import StaffViewOf
from app.schemas import health_report as schemas
from app.schemas.base import FromDay, ToDay, problem_responses
from app.services.health import report
from app.services.platform.days import resolve_range, team_zone

router = APIRouter(tags=["health"])


def report_out(found: report.HealthReport) -> schemas.HealthReport:
    hours, rates = found.exposure_hours, found.incidence_per_1000h
    return schemas.HealthReport(
        from_=found.days.start,
        to=found.days.end,
        exposure_hours=schemas.ExposureHours(
            training=hours.training, match=hours.match, total=hours.total
        ),
        problems=schemas.ProblemCounts(injuries=found.injuries, illnesses=found.illnesses),
        incidence_per_1000h=schemas.Incidence(
            training=rates.training, match=rates.match, total=rates.total
        ),
        days_lost=found.days_lost,
        burden_per_1000h=found.burden_per_1000h,
        weekly=[
            schemas.HealthWeek(
                week=week.week,
                players=week.players,
                respondents=week.respondents,
                prevalence=week.prevalence,
                prevalence_substantial=week.prevalence_substantial,
            )
            for week in found.weekly
        ],
    )


@router.get(
    "/teams/{team_id}/health-report",
    operation_id="get_health_report",
    response_model=schemas.HealthReport,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_health_report(
    access: StaffViewOf, db: Db, from_: FromDay = None, to: ToDay = None
) -> schemas.HealthReport:
    """The team's injury and illness figures for a range of days (staff only), as the IOC
    consensus defines them (Bahr et al. 2020).

    ``to`` defaults to (and is capped at) today in the team's zone, ``from`` to 27 days
    before it (the last 28 days); at most 731 days, ``from`` not after ``to`` (else 422).

    - exposure_hours: per attended (PRESENT or LATE) session of the range and player, the
      attendance's minutes_participated when above 0, else the session's length; MATCH
      sessions are match exposure, the others training.
    - problems: the injuries and illnesses with onset in the range.
    - incidence_per_1000h: 1000 x those problems / exposure hours, training and match by
      the problem's context (OTHER only in the total); null without exposure.
    - days_lost: the days inside the range on which a problem was UNAVAILABLE or MODIFIED,
      summed over every problem open in the range (also those with an earlier onset).
    - burden_per_1000h: 1000 x days_lost / total exposure hours.
    - weekly: per ISO week overlapping the range, players (today's active players),
      respondents (those of them with an OSTRC-H2 answer that week), prevalence (share of
      respondents with a problem, q1 > 0) and prevalence_substantial (share with a
      substantial one); null without respondents.

    Only PLAYER memberships count. The number of SQL statements does not depend on the
    team's size or the range.
    """
    days = resolve_range(team_zone(access.team), from_, to)
    return report_out(await report.read(db, access.team.id, days))
