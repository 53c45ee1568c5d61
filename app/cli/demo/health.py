"""The demo's health data: the season's injuries and illness, as the physiotherapist (or the
athlete) records them, and the squad's weekly OSTRC-H2 answers.

The story: the spike player tears his left hamstring in a match about three weeks before
his return (out for a week, then modified training, then full, signed off a week later);
one player rolls an ankle and misses a fortnight, another is off with a stomach bug for
four days; and this morning the fly-half reported a sore knee himself, which waits for the
physio's triage. :func:`plan` decides those days before the season is simulated, so the
attendance, wellness and HRV show them (``scenario.phase_of``); :func:`record` stores the
problems through the health service, as the API would (stages, resolution, clinical fields
and the athlete's alert); :func:`ostrc_rows` makes the weekly answers, about 80 % of the
squad answering each week, each answer about the problems open that week (q1 > 0) or
about none (q1 = 0).
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.demo import season
from app.cli.demo.scenario import (
    DAYS,
    HAMSTRING_MINUTE,
    SPIKE_JERSEY,
    SPIKE_RETURN_DAYS,
    TIMEZONE,
    Athlete,
    Plan,
)
from app.models import (
    Availability,
    BodyArea,
    Mechanism,
    ProblemContext,
    ProblemKind,
    Role,
    SessionType,
    Side,
    TeamMembership,
)
from app.models.base import utcnow
from app.services.health import problems, rules
from app.services.health.ostrc import NO_PROBLEM
from app.services.loads.summary import iso_week_label, monday_of
from app.services.teams import access as teams

KNEE_JERSEY = 10
"""The fly-half who reported a sore knee himself this morning (his login is printed)."""
HAMSTRING_WEEKS_TO_FULL = 3
"""About three weeks from the hamstring's onset to full training."""
HAMSTRING_UNAVAILABLE_DAYS = 7
"""The first week after the hamstring strain: no training at all."""
SIGNED_OFF_AFTER_DAYS = 7
"""The physio signs the hamstring off after a week of full training."""
ILLNESS_DAYS = 4
"""The stomach bug's days away from the squad (its days lost)."""
OSTRC_RATES = (0.64, 0.96)
"""Each player answers the weekly questionnaire with a rate of their own: 80 % on average."""
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Planned:
    """One health problem of the story, with what its recorder writes.

    ``context`` None: the context of the session the player was in on the onset day
    (MATCH or TRAINING, linked to it), OTHER on a day without one. ``details`` are the
    other fields of :func:`app.services.health.problems.create_problem`; ``closing`` the
    fields changed when the problem is resolved (the clinical notes grow with it).
    """

    membership_id: int
    kind: ProblemKind
    onset: date
    stages: tuple[rules.Stage, ...]
    resolved_on: date | None
    details: dict[str, Any]
    context: ProblemContext | None = None
    self_reported: bool = False
    closing: dict[str, Any] = field(default_factory=dict)

    @property
    def figures(self) -> rules.Problem:
        return rules.Problem(self.onset, self.resolved_on, self.stages)


@dataclass(frozen=True)
class Recorded:
    problem_id: int
    planned: Planned


# --- the plan ------------------------------------------------------------------------------


def plan(athletes: Sequence[Athlete], first: date, end: date, rng: random.Random) -> list[Planned]:
    """The period's problems, early ones resolved long before today; marks the days each
    player misses or trains modified on the athletes, for the simulation to follow."""
    spike = next(a for a in athletes if a.jersey == SPIKE_JERSEY)
    spike.absence_rate = 0.0
    others = [a for a in athletes if a.jersey != SPIKE_JERSEY]
    knocked, ill = rng.sample(others, 2)
    start = first + timedelta(days=rng.randint(10, DAYS - 60))
    knocked.injured = (start, start + timedelta(days=rng.randint(7, 14)))
    ankle = _ankle(knocked.membership_id, *knocked.injured)
    start = first + timedelta(days=rng.randint(10, DAYS - 60))
    ill.ill = (start, start + timedelta(days=ILLNESS_DAYS - 1))
    knee = next(a for a in athletes if a.jersey == KNEE_JERSEY)
    return [
        _hamstring(spike, first, end),
        ankle,
        _illness(ill.membership_id, *ill.ill),
        _knee(knee.membership_id, end),
    ]


def hamstring_onset(first: date, end: date) -> date:
    """The match about ``HAMSTRING_WEEKS_TO_FULL`` weeks before the spike player's return
    to full training (the earlier of two equally near; a bye week has no match)."""
    full = end - timedelta(days=SPIKE_RETURN_DAYS - 1)
    target = full - HAMSTRING_WEEKS_TO_FULL * WEEK
    return min(season.match_days(first, end), key=lambda day: (abs((day - target).days), day))


def _hamstring(spike: Athlete, first: date, end: date) -> Planned:
    """Left biceps femoris, grade 2: a week out, modified until the return, then full."""
    onset = hamstring_onset(first, end)
    modified = onset + timedelta(days=HAMSTRING_UNAVAILABLE_DAYS)
    full = end - timedelta(days=SPIKE_RETURN_DAYS - 1)
    signed_off = full + timedelta(days=SIGNED_OFF_AFTER_DAYS)
    expected = onset + HAMSTRING_WEEKS_TO_FULL * WEEK
    spike.hurt_in = onset
    spike.injured = (onset + timedelta(days=1), modified - timedelta(days=1))
    spike.rehab = (modified, full - timedelta(days=1))
    notes = (
        f"{_day(onset)}: felt a sharp pull in the left posterior thigh sprinting to cover a "
        f"kick ({HAMSTRING_MINUTE}th minute), walked off. Tender 12 cm above the knee crease "
        "over the lateral hamstring; pain on resisted knee flexion at 90 deg; active knee "
        "extension 25 deg short of the right. MRI two days later: grade 2b, 6 cm oedema, "
        "intramuscular tendon intact. Plan: crutches 48 h, isometrics from day 3, no "
        "sprinting until 90 % of his top speed in rehab."
    )
    return Planned(
        membership_id=spike.membership_id,
        kind=ProblemKind.INJURY,
        onset=onset,
        context=ProblemContext.MATCH,
        stages=(
            rules.Stage(onset, Availability.UNAVAILABLE),
            rules.Stage(modified, Availability.MODIFIED),
            rules.Stage(full, Availability.FULL),
        ),
        resolved_on=signed_off,
        details={
            "body_area": BodyArea.THIGH,
            "side": Side.LEFT,
            "mechanism": Mechanism.ACUTE,
            "summary": (
                "Left hamstring strain in the match. Out of training for a week, then "
                "modified training (no conditioning, no match); expected back in full "
                f"training around {_day(expected)}."
            ),
            "expected_return": expected,
            "diagnosis": (
                "Grade 2 strain of the left biceps femoris long head at the "
                "musculotendinous junction (BAMIC 2b), confirmed on MRI"
            ),
            "osiics_code": "TMHX",
            "clinical_notes": notes,
        },
        closing={
            "clinical_notes": (
                f"{notes}\n{_day(modified)}: pain-free walking and jogging; modified "
                "training (skills, gym and team runs without contact work; no "
                "conditioning); Nordics progressed.\n"
                f"{_day(full)}: 95 % of top speed on GPS, Nordic strength within 10 % of "
                "the right; back in full training.\n"
                f"{_day(signed_off)}: symmetrical strength, no symptoms after a week of "
                "full training: signed off. Watch his load over the next fortnight, "
                "re-injury risk is highest now."
            )
        },
    )


def _ankle(membership_id: int, out_from: date, out_until: date) -> Planned:
    """Rolled his right ankle the day before his absence (in its session, if there was
    one); resolved on his first day back."""
    onset = out_from - timedelta(days=1)
    back = out_until + timedelta(days=1)
    return Planned(
        membership_id=membership_id,
        kind=ProblemKind.INJURY,
        onset=onset,
        stages=(rules.Stage(onset, Availability.UNAVAILABLE),),
        resolved_on=back,
        details={
            "body_area": BodyArea.ANKLE,
            "side": Side.RIGHT,
            "mechanism": Mechanism.ACUTE,
            "summary": (
                "Rolled his right ankle. No training until the swelling settles; back in "
                f"about {(back - onset).days} days."
            ),
            "expected_return": back,
            "diagnosis": "Lateral ligament sprain, right ankle: grade 2 ATFL, CFL intact",
            "clinical_notes": (
                "Inversion injury, able to weight-bear four steps; Ottawa ankle rules "
                "negative, no X-ray. Anterior drawer lax with a firm end feel. Compression, "
                "protected weight bearing 48 h, then balance and calf work; taped or braced "
                "for the first month back."
            ),
        },
    )


def _illness(membership_id: int, onset: date, last: date) -> Planned:
    """A stomach bug: ``ILLNESS_DAYS`` days away from the squad, resolved the day after."""
    return Planned(
        membership_id=membership_id,
        kind=ProblemKind.ILLNESS,
        onset=onset,
        context=ProblemContext.OTHER,
        stages=(rules.Stage(onset, Availability.UNAVAILABLE),),
        resolved_on=last + timedelta(days=1),
        details={
            "summary": "Stomach bug: kept away from the squad until 48 hours clear of it.",
            "diagnosis": "Acute viral gastroenteritis",
            "clinical_notes": (
                "Vomiting and diarrhoea overnight, afebrile, mildly dehydrated. Isolated "
                "from the squad, oral rehydration; reminded the squad about hand hygiene. "
                "Back 48 h after the last symptoms, light session first."
            ),
        },
    )


def _knee(membership_id: int, end: date) -> Planned:
    """Sore since yesterday, reported by the player this morning: modified, not triaged."""
    return Planned(
        membership_id=membership_id,
        kind=ProblemKind.INJURY,
        onset=end,
        stages=(rules.Stage(end, Availability.MODIFIED),),
        resolved_on=None,
        self_reported=True,
        details={
            "body_area": BodyArea.KNEE,
            "side": Side.RIGHT,
            "mechanism": Mechanism.GRADUAL,
            "summary": (
                f"My right knee has been sore since {end:%A}, worse on stairs and when I "
                "sprint. I can train but not flat out."
            ),
        },
    )


def _day(day: date) -> str:
    return f"{day.day} {day:%b}"


# --- recording -----------------------------------------------------------------------------


async def record(
    db: AsyncSession,
    team_id: int,
    planned: Sequence[Planned],
    by_day: dict[date, list[tuple[int, Plan]]],
) -> list[Recorded]:
    """Store the problems through the health service: the physio records and resolves
    them with the clinical fields; the knee's player reports his own (raising
    ``HEALTH_PROBLEM_REPORTED`` for the staff). What the physio recorded is dated as if
    written on the day (``created_at``) and last changed at its last step."""
    physio_id = await db.scalar(
        select(TeamMembership.user_id).where(
            TeamMembership.team_id == team_id, TeamMembership.role == Role.MEDICAL
        )
    )
    if physio_id is None:
        raise RuntimeError("the demo team has no physio to record its problems")
    physio = await teams.team_access(db, physio_id, team_id)
    recorded = []
    for problem in planned:
        membership = await db.get_one(TeamMembership, problem.membership_id)
        writer = physio
        if problem.self_reported:
            writer = await teams.team_access(db, membership.user_id, team_id)
        context, session_id = _context(problem, by_day.get(problem.onset, []))
        view = await problems.create_problem(
            db,
            writer,
            membership,
            kind=problem.kind,
            onset_date=problem.onset,
            context=context,
            session_id=session_id,
            availability=problem.stages[0].availability,
            **problem.details,
        )
        for stage in problem.stages[1:]:
            view = await problems.record_stage(db, view, stage.start, stage.availability)
        if problem.resolved_on is not None:
            changes = {"resolved_on": problem.resolved_on, **problem.closing}
            view = await problems.update_problem(db, view, changes)
        if not problem.self_reported:
            last = problem.resolved_on or problem.stages[-1].start
            view.problem.created_at = _at(problem.onset, time(19, 30))
            view.problem.updated_at = _at(last, time(9, 15))
        recorded.append(Recorded(view.problem.id, problem))
    await db.flush()
    return recorded


def _context(
    problem: Planned, sessions: Sequence[tuple[int, Plan]]
) -> tuple[ProblemContext, int | None]:
    """The problem's context and session: the match or the day's last training session."""
    if problem.context is not None and problem.context != ProblemContext.MATCH:
        return problem.context, None
    matches = [sid for sid, p in sessions if p.session_type == SessionType.MATCH]
    if matches:
        return ProblemContext.MATCH, matches[0]
    if problem.context == ProblemContext.MATCH:
        raise ValueError(f"no match on {problem.onset} for a match injury")
    if sessions:
        return ProblemContext.TRAINING, sessions[-1][0]
    return ProblemContext.OTHER, None


def _at(day: date, clock: time) -> datetime:
    """That local time as UTC, never after now."""
    return min(datetime.combine(day, clock, ZoneInfo(TIMEZONE)).astimezone(UTC), utcnow())


# --- OSTRC-H2 ------------------------------------------------------------------------------


def ostrc_rows(
    team_id: int,
    recorded: Sequence[Recorded],
    athletes: Sequence[Athlete],
    first: date,
    end: date,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """The squad's weekly answers for every ISO week of the period that is over (Monday on
    or after ``first``, Sunday on or before ``end``), answered on its Sunday evening.

    Each player answers with their own rate (``OSTRC_RATES``), and always in a week with
    a problem open (the physio sees to it): once about each problem open in the week, with
    q1 from its days that week (see :func:`_answers`), or else once with q1 = 0.
    """
    of_member: dict[int, list[Recorded]] = {}
    for entry in recorded:
        of_member.setdefault(entry.planned.membership_id, []).append(entry)
    rates = {a.membership_id: rng.uniform(*OSTRC_RATES) for a in athletes}
    monday = first if first.weekday() == 0 else monday_of(first) + WEEK
    rows: list[dict[str, Any]] = []
    while monday + timedelta(days=6) <= end:
        week = [monday + timedelta(days=offset) for offset in range(7)]
        for athlete in athletes:
            skips = rng.random() > rates[athlete.membership_id]
            answers = _answers(of_member.get(athlete.membership_id, []), week, rng)
            if skips and answers[0][0] is None:
                continue  # no answer this week (with a problem, the physio makes sure)
            answered = _at(week[-1], time(rng.randint(19, 21), rng.randint(0, 59)))
            base = {
                "team_id": team_id,
                "membership_id": athlete.membership_id,
                "week": iso_week_label(monday),
                "week_monday": monday,
                "created_at": answered,
                "updated_at": answered,
            }
            for problem_id, values in answers:
                rows.append(
                    base
                    | values
                    | {"problem_id": problem_id, "problem_key": problem_id or NO_PROBLEM}
                )
        monday += WEEK
    return rows


def _answers(
    recorded: Sequence[Recorded], week: Sequence[date], rng: random.Random
) -> list[tuple[int | None, dict[str, int]]]:
    """One answer per problem open during the week, else one about no problem.

    q1 (participation) from the problem's availability on the week's days: could not
    participate (3) when unavailable on most of them, reduced (2) when unavailable or
    modified on any, else full with a problem (1); q2 to q4 follow it.
    """
    found: list[tuple[int | None, dict[str, int]]] = []
    for entry in recorded:
        levels = [rules.availability_on(entry.planned.figures, day) for day in week]
        if all(level is None for level in levels):
            continue
        out = levels.count(Availability.UNAVAILABLE)
        if out >= 4:
            answers = {"q1": 3, "q2": 4, "q3": 4, "q4": rng.choice((2, 3))}
        elif out or Availability.MODIFIED in levels:
            answers = {
                "q1": 2,
                "q2": rng.choice((1, 2, 3)),
                "q3": rng.choice((1, 2, 3)),
                "q4": rng.choice((1, 2)),
            }
        else:
            answers = {"q1": 1, "q2": rng.choice((0, 1)), "q3": rng.choice((0, 1)), "q4": 1}
        found.append((entry.problem_id, answers))
    return found or [(None, {"q1": 0, "q2": 0, "q3": 0, "q4": 0})]
