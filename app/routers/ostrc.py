"""The weekly OSTRC-H2 questionnaire of one member: answering, and the answers of a range."""

from fastapi import APIRouter, Response

from app.db import Db
from app.deps import MemberEntryWriter, MemberReader
from app.models import OstrcAnswer
from app.schemas import ostrc as schemas
from app.schemas.base import FromDay, Limit, Offset, ToDay, problem_responses
from app.services.health import ostrc, rules
from app.services.platform.days import resolve_range, team_zone

router = APIRouter(prefix="/performance/members/{membership_id}/ostrc", tags=["health"])


def answer_out(answer: OstrcAnswer) -> schemas.OstrcAnswer:
    return schemas.OstrcAnswer(
        id=answer.id,
        membership_id=answer.membership_id,
        week=answer.week,
        q1=answer.q1,
        q2=answer.q2,
        q3=answer.q3,
        q4=answer.q4,
        severity=rules.ostrc_severity(answer.q1, answer.q2, answer.q3, answer.q4),
        substantial=rules.ostrc_substantial(answer.q1, answer.q2, answer.q3),
        problem_id=answer.problem_id,
    )


@router.post(
    "",
    operation_id="upsert_ostrc",
    status_code=201,
    response_model=schemas.OstrcAnswer,
    responses=problem_responses(401, 403, 404, 409, 422)
    | {200: {"model": schemas.OstrcAnswer, "description": "Replaced"}},
)
async def upsert_ostrc(
    body: schemas.OstrcCreate, member: MemberEntryWriter, db: Db, response: Response
) -> schemas.OstrcAnswer:
    """Answer the OSTRC-H2 questionnaire for an ISO week: 201 when new, 200 when it replaces
    the answer of the same week and problem (no problem and an unnamed one count as one).

    By the athlete or staff of the team, for a PLAYER membership (else 422 naming
    membership_id). 422 naming the field: an answer out of range; q1 = 0 with any other
    answer above 0 or a problem named; a week after the current one (team's zone); a
    problem_id that is not one of this member's problems open that week (unknown, another
    member's and another team's alike); problem_id with new_problem.

    A week holds one "no problem" answer (q1 = 0) or answers about problems: an answer about
    a named or new problem replaces the week's "no problem" answer, and q1 = 0 while the
    week has answers about named problems is a 409.

    new_problem opens an injury or illness with context OTHER, onset on the week's Monday
    and its first availability stage from q1: 3 -> UNAVAILABLE, 2 -> MODIFIED, 1 -> FULL.
    When the athlete answers themselves, staff get a HEALTH_PROBLEM_REPORTED alert (amber)
    to triage it.
    """
    answer, created = await ostrc.record(db, member, body)
    response.status_code = 201 if created else 200
    return answer_out(answer)


@router.get(
    "",
    operation_id="list_ostrc",
    response_model=list[schemas.OstrcAnswer],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_ostrc(
    member: MemberReader,
    db: Db,
    from_: FromDay = None,
    to: ToDay = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[schemas.OstrcAnswer]:
    """The member's answers of every ISO week overlapping the range, oldest week first.

    ``to`` defaults to (and is capped at) today in the team's zone, ``from`` to 27 days
    before; at most 731 days.
    """
    days = resolve_range(team_zone(member.membership.team), from_, to)
    answers = await ostrc.read_answers(db, member, days, limit=limit, offset=offset)
    return [answer_out(answer) for answer in answers]
