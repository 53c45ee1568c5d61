"""A team's health report over a range of days, as the IOC consensus on injury and illness
surveillance defines its figures (Bahr et al. 2020), with the weekly OSTRC-H2 prevalence
(Clarsen et al. 2020).

Four statements whatever the team's size or the range: the attended sessions' exposure,
the problems open in the range with their stages, the active players, and their OSTRC
answers. The figures are :mod:`app.services.health.rules` arithmetic on those plain
values (:func:`compose`). Only PLAYER memberships count (a coach's attendance is no
athlete exposure); players since deactivated still count for the exposure and problems of
the range, while the weekly figures are about today's active players.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    ATTENDED,
    Attendance,
    HealthProblem,
    HealthStage,
    OstrcAnswer,
    ProblemContext,
    ProblemKind,
    Role,
    SessionType,
    TeamMembership,
    TrainingSession,
)
from app.services.health import rules
from app.services.loads.summary import iso_week_label, monday_of
from app.services.platform.days import DayRange

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class SessionExposure:
    """One session's attended players: the minutes they reported, and how many reported
    none (they count the session's whole length)."""

    match: bool
    length_min: int
    reported_min: int
    without_minutes: int

    def minutes(self) -> int:
        return self.reported_min + self.without_minutes * self.length_min


@dataclass(frozen=True)
class ReportProblem:
    kind: ProblemKind
    context: ProblemContext
    problem: rules.Problem


@dataclass(frozen=True)
class WeekAnswer:
    """One OSTRC answer of an active player (what prevalence needs of it)."""

    monday: date
    membership_id: int
    q1: int
    q2: int
    q3: int


@dataclass(frozen=True)
class Hours:
    training: float
    match: float
    total: float


@dataclass(frozen=True)
class Rates:
    """Per 1,000 hours of training, of matches, and in total (None without exposure)."""

    training: float | None
    match: float | None
    total: float | None


@dataclass(frozen=True)
class WeekFigures:
    week: str
    players: int
    respondents: int
    prevalence: float | None
    prevalence_substantial: float | None


@dataclass(frozen=True)
class HealthReport:
    days: DayRange
    exposure_hours: Hours
    injuries: int
    illnesses: int
    incidence_per_1000h: Rates
    days_lost: int
    burden_per_1000h: float | None
    weekly: list[WeekFigures]


async def read(db: AsyncSession, team_id: int, days: DayRange) -> HealthReport:
    """The team's report for ``days`` (already resolved: ``days.end`` is today at most)."""
    sessions = await _exposure(db, team_id, days)
    problems = await _problems(db, team_id, days)
    players = await db.scalar(
        select(func.count())
        .select_from(TeamMembership)
        .where(*_ACTIVE_PLAYER, TeamMembership.team_id == team_id)
    )
    answers = await _answers(db, team_id, days)
    return compose(days, sessions, problems, players or 0, answers)


# --- reading ------------------------------------------------------------------------------

_ACTIVE_PLAYER = (TeamMembership.role == Role.PLAYER, TeamMembership.active.is_(True))


async def _exposure(db: AsyncSession, team_id: int, days: DayRange) -> list[SessionExposure]:
    """Per session of the range with attended players: what :class:`SessionExposure` holds."""
    reported = Attendance.minutes_participated > 0
    query = (
        select(
            TrainingSession.session_type,
            TrainingSession.start,
            TrainingSession.end,
            func.sum(case((reported, Attendance.minutes_participated), else_=0)),
            func.sum(case((reported, 0), else_=1)),
        )
        .join(Attendance, Attendance.session_id == TrainingSession.id)
        .join(TeamMembership, TeamMembership.id == Attendance.membership_id)
        .where(
            TrainingSession.team_id == team_id,
            TrainingSession.day >= days.start,
            TrainingSession.day <= days.end,
            Attendance.status.in_(ATTENDED),
            TeamMembership.role == Role.PLAYER,
        )
        .group_by(TrainingSession.id)
    )
    return [
        SessionExposure(
            match=kind == SessionType.MATCH,
            length_min=round((end - start).total_seconds() / 60),
            reported_min=int(minutes),
            without_minutes=int(without),
        )
        for kind, start, end, minutes, without in await db.execute(query)
    ]


async def _problems(db: AsyncSession, team_id: int, days: DayRange) -> list[ReportProblem]:
    """The team's problems open at some time in the range (onset on or before its end, not
    resolved by its start), with their stages; never a clinical field."""
    query = (
        select(
            HealthProblem.id,
            HealthProblem.kind,
            HealthProblem.context,
            HealthProblem.onset_date,
            HealthProblem.resolved_on,
            HealthStage.from_date,
            HealthStage.availability,
        )
        .outerjoin(HealthStage, HealthStage.problem_id == HealthProblem.id)
        .where(
            HealthProblem.team_id == team_id,
            HealthProblem.onset_date <= days.end,
            or_(HealthProblem.resolved_on.is_(None), HealthProblem.resolved_on > days.start),
        )
        .order_by(HealthProblem.id)
    )
    found: dict[int, tuple[ProblemKind, ProblemContext, date, date | None]] = {}
    stages: dict[int, list[rules.Stage]] = defaultdict(list)
    for pid, kind, context, onset, resolved, start, availability in await db.execute(query):
        found[pid] = (kind, context, onset, resolved)
        if start is not None:
            stages[pid].append(rules.Stage(start, availability))
    return [
        ReportProblem(kind, context, rules.Problem(onset, resolved, stages[pid]))
        for pid, (kind, context, onset, resolved) in found.items()
    ]


async def _answers(db: AsyncSession, team_id: int, days: DayRange) -> list[WeekAnswer]:
    """The active players' OSTRC answers of the ISO weeks overlapping the range."""
    query = (
        select(
            OstrcAnswer.week_monday,
            OstrcAnswer.membership_id,
            OstrcAnswer.q1,
            OstrcAnswer.q2,
            OstrcAnswer.q3,
        )
        .join(TeamMembership, TeamMembership.id == OstrcAnswer.membership_id)
        .where(
            OstrcAnswer.team_id == team_id,
            OstrcAnswer.week_monday >= monday_of(days.start),
            OstrcAnswer.week_monday <= days.end,
            *_ACTIVE_PLAYER,
        )
    )
    return [WeekAnswer(*row) for row in await db.execute(query)]


# --- the figures (pure) ------------------------------------------------------------------


def compose(
    days: DayRange,
    sessions: Iterable[SessionExposure],
    problems: Sequence[ReportProblem],
    players: int,
    answers: Iterable[WeekAnswer],
) -> HealthReport:
    """The report's figures from plain values.

    Exposure: hours of the attended sessions, MATCH sessions as match exposure. Incidence:
    1000 x problems with onset in the range / hours, training and match by the problem's
    context (OTHER only in the total). days_lost: the time-loss days inside the range of
    every problem open in it; burden: 1000 x days_lost / total hours.
    """
    training_min = match_min = 0
    for session in sessions:
        if session.match:
            match_min += session.minutes()
        else:
            training_min += session.minutes()
    hours = Hours(training_min / 60, match_min / 60, (training_min + match_min) / 60)
    onsets = [p for p in problems if days.start <= p.problem.onset <= days.end]
    lost = sum(rules.days_lost(p.problem, days.end, start=days.start) for p in problems)
    return HealthReport(
        days=days,
        exposure_hours=hours,
        injuries=sum(1 for p in onsets if p.kind == ProblemKind.INJURY),
        illnesses=sum(1 for p in onsets if p.kind == ProblemKind.ILLNESS),
        incidence_per_1000h=_incidence(onsets, hours),
        days_lost=lost,
        burden_per_1000h=rules.per_1000_hours(lost, hours.total),
        weekly=weekly(days, players, answers),
    )


def _incidence(onsets: Sequence[ReportProblem], hours: Hours) -> Rates:
    def of(context: ProblemContext) -> int:
        return sum(1 for p in onsets if p.context == context)

    return Rates(
        rules.per_1000_hours(of(ProblemContext.TRAINING), hours.training),
        rules.per_1000_hours(of(ProblemContext.MATCH), hours.match),
        rules.per_1000_hours(len(onsets), hours.total),
    )


def weekly(days: DayRange, players: int, answers: Iterable[WeekAnswer]) -> list[WeekFigures]:
    """Per ISO week overlapping the range: the respondents (players with an answer that
    week), the share of them with a health problem (an answer with q1 > 0) and with a
    substantial one (:func:`rules.ostrc_substantial` of any of their answers)."""
    respondents: dict[date, set[int]] = defaultdict(set)
    with_problem: dict[date, set[int]] = defaultdict(set)
    substantial: dict[date, set[int]] = defaultdict(set)
    for a in answers:
        respondents[a.monday].add(a.membership_id)
        if a.q1 > 0:
            with_problem[a.monday].add(a.membership_id)
        if rules.ostrc_substantial(a.q1, a.q2, a.q3):
            substantial[a.monday].add(a.membership_id)
    figures = []
    monday = monday_of(days.start)
    while monday <= days.end:
        answered = len(respondents[monday])
        figures.append(
            WeekFigures(
                week=iso_week_label(monday),
                players=players,
                respondents=answered,
                prevalence=rules.share(len(with_problem[monday]), answered),
                prevalence_substantial=rules.share(len(substantial[monday]), answered),
            )
        )
        monday += WEEK
    return figures
