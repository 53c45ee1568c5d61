"""The demo's calendar: five training days a week around Saturday matches (every fifth
week a bye), stored as training sessions."""

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.demo import bulk
from app.cli.demo.scenario import Plan
from app.models import SessionType, TrainingSession
from app.services.platform.days import day_of

OPPONENTS = (
    "Riverside RFC",
    "Old Millfieldians",
    "Castle Vale",
    "St Austell Pirates",
    "Northgate",
    "Brookhampton",
    "Westcliff Wanderers",
    "Kingsbridge",
)
HOME = "Harbour Park"
GYM = "Harbour Park gym"
# The coach's intended CR-10 per session type: the load plan that load-summary, the weekly
# CSV and the PDF set beside the players' ratings (a little under what they report on
# conditioning and the matches, as squads usually do).
PLANNED_RPE = {
    SessionType.RECOVERY: Decimal("3.0"),
    SessionType.STRENGTH: Decimal("6.0"),
    SessionType.CONDITIONING: Decimal("7.0"),
    SessionType.TECHNICAL: Decimal("5.0"),
    SessionType.TACTICAL: Decimal("5.5"),
    SessionType.MATCH: Decimal("8.5"),
}


def calendar(first: date, end: date, rng: random.Random) -> list[tuple[date, Plan]]:
    """Every session of the period: a Saturday match each week but every fifth (a bye).

    Weeks run Monday to Sunday, so a Sunday recovery follows that week's Saturday.
    """
    first_monday = first - timedelta(days=first.weekday())
    planned: list[tuple[date, Plan]] = []
    for offset in range((end - first).days + 1):
        day = first + timedelta(days=offset)
        week = (day - first_monday).days // 7
        planned.extend((day, plan) for plan in _day_plan(day, week, _bye(week), rng))
    return planned


def match_days(first: date, end: date) -> list[date]:
    """The Saturdays of the period with a match (not a bye), as :func:`calendar` plans them
    (known before the calendar is drawn, so injuries can be planned in a match)."""
    first_monday = first - timedelta(days=first.weekday())
    days = (first + timedelta(days=offset) for offset in range((end - first).days + 1))
    return [day for day in days if day.weekday() == 5 and not _bye((day - first_monday).days // 7)]


def _bye(week: int) -> bool:
    return week % 5 == 3


def _day_plan(day: date, week: int, bye: bool, rng: random.Random) -> list[Plan]:
    """The sessions of one weekday: Monday and Friday off, two sessions on Tuesday."""
    weekday = day.weekday()
    gym = "Gym: lower body" if week % 2 == 0 else "Gym: upper body"
    if weekday == 6:  # Sunday: recovery after the match, none after a bye
        if bye:
            return []
        return [Plan(SessionType.RECOVERY, "Recovery: pool and mobility", time(10, 0), 45, GYM)]
    if weekday == 1:  # Tuesday
        return [
            Plan(SessionType.STRENGTH, gym, time(7, 0), rng.choice((55, 60, 65)), GYM),
            Plan(
                SessionType.TECHNICAL,
                "Skills: handling and kicking",
                time(18, 30),
                rng.choice((75, 80, 90)),
                HOME,
            ),
        ]
    if weekday == 2:  # Wednesday
        return [
            Plan(
                SessionType.CONDITIONING,
                "Conditioning: repeated sprints",
                time(18, 30),
                rng.choice((60, 70, 75)),
                HOME,
            )
        ]
    if weekday == 3:  # Thursday
        return [
            Plan(
                SessionType.TACTICAL,
                "Team run: attack shape and defence",
                time(18, 30),
                rng.choice((80, 90, 95)),
                HOME,
            )
        ]
    if weekday == 5:  # Saturday
        if bye:
            return [Plan(SessionType.CONDITIONING, "Bye week fitness", time(10, 0), 60, HOME)]
        opponent = OPPONENTS[week % len(OPPONENTS)]
        home = week % 2 == 0
        title = f"vs {opponent}" if home else f"at {opponent}"
        return [Plan(SessionType.MATCH, title, time(15, 0), 90, HOME if home else opponent)]
    return []


async def insert_sessions(
    db: AsyncSession,
    team_id: int,
    season_id: int,
    plans: Sequence[tuple[date, Plan]],
    tz: ZoneInfo,
) -> list[int]:
    """Store the calendar with UTC start and end, the day each counts on locally, and the
    coach's planned RPE for its type."""
    rows = []
    for day, plan in plans:
        start = datetime.combine(day, plan.start, tz).astimezone(UTC)
        rows.append(
            {
                "team_id": team_id,
                "season_id": season_id,
                "session_type": plan.session_type,
                "title": plan.title,
                "start": start,
                "end": start + timedelta(minutes=plan.minutes),
                "day": day_of(start, tz),
                "location": plan.location,
                "notes": None,
                "planned_rpe": PLANNED_RPE[plan.session_type],
            }
        )
    return await bulk.insert_returning(db, TrainingSession, rows)
