"""A believable demo team: four months of sessions, attendance, sRPE, wellness, HRV and GPS.

``loadline demo`` loads it so a new install shows something worth looking at: a rugby
squad training five days a week around Saturday matches, a few absences, players who
forget to log, the odd bad morning, and one player whose load spikes after coming back
from a hamstring strain (the case ACWR exists to catch). On top of that: morning HRV from
WHOOP, Oura or typed in by hand (the spike player's trending down), GPS summaries of every
field session, ACWR snapshots of both load sources, the season's injuries and illness as
the physio recorded them with the squad's weekly OSTRC-H2 answers (and a sore knee
reported this morning, waiting for triage), and the alerts the rules would have raised
over the last two weeks, a few of them already acknowledged by the coach. Everything
comes from seeded ``random.Random`` instances so the same seed and day give the same data.

:func:`seed` runs the steps in order; each module of this package makes one part:
``scenario`` (the story's constants and its players), ``squad`` (team, staff, players and
their habits), ``health`` (injuries, illness and OSTRC-H2), ``season`` (the calendar),
``training_days`` (wellness, attendance and sRPE of each day), ``wearables`` (HRV and
GPS), ``alerts`` (raised and acknowledged), ``bulk`` (the inserts).
"""

import random
from collections.abc import Callable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.demo import alerts, bulk, health, season, squad, training_days, wearables
from app.cli.demo.scenario import DAYS, PASSWORD, SPIKE_JERSEY, TEAM_NAME, TIMEZONE, Plan
from app.models import (
    Attendance,
    DailyHRV,
    ExternalLoadSource,
    LoadSource,
    OstrcAnswer,
    SessionRPE,
    Team,
    WellnessLog,
)
from app.services.acwr import engine as acwr_engine
from app.services.loads import daily as loads
from app.services.loads import external
from app.services.platform.days import today as local_today

__all__ = ["DAYS", "PASSWORD", "SPIKE_JERSEY", "TEAM_NAME", "TIMEZONE", "Progress", "seed"]

Progress = Callable[[int, int, str], None]


async def seed(
    db: AsyncSession,
    progress: Progress | None = None,
    *,
    today: date | None = None,
    seed: int = 7,
) -> list[tuple[str, str]]:
    """Load the demo team into the caller's transaction; returns the ``(role, email)`` logins.

    The data covers the ``DAYS`` days before ``today`` (the team's today by default).
    Nothing is committed: the caller owns the transaction.
    """
    rng = random.Random(seed)
    tz = ZoneInfo(TIMEZONE)
    end = (today or local_today(tz)) - timedelta(days=1)
    first = end - timedelta(days=DAYS - 1)
    report = _Reporter(progress, total=DAYS + 9)

    team_id, season_id = await squad.create_team(db, first, end)
    domain = await squad.free_domain(db)
    logins, athletes = await squad.create_people(db, team_id, domain, rng)
    planned = health.plan(athletes, first, end, rng)
    report.step("Squad")

    plans = season.calendar(first, end, rng)
    session_ids = await season.insert_sessions(db, team_id, season_id, plans, tz)
    report.step("Sessions")

    rows = training_days.Rows([], [], [])
    days = [first + timedelta(days=i) for i in range(DAYS)]
    by_day: dict[date, list[tuple[int, Plan]]] = {day: [] for day in days}
    for session_id, (day, plan) in zip(session_ids, plans, strict=True):
        by_day[day].append((session_id, plan))
    for day in days:
        training_days.simulate_day(
            rows,
            team_id,
            day,
            end,
            by_day[day],
            by_day.get(day - timedelta(days=1), []),
            athletes,
            rng,
        )
        report.step("Training days")

    # The newer signals draw from their own generator, so the data above stays as it was.
    extra = random.Random(seed * 7919 + 1)
    rows.wellness.extend(training_days.this_morning(team_id, end, athletes, extra))
    await bulk.insert_rows(db, Attendance, rows.attendance)
    await bulk.insert_rows(db, SessionRPE, rows.srpe)
    await bulk.insert_rows(db, WellnessLog, rows.wellness)
    report.step("Saving")
    await loads.rebuild_team(db, team_id)
    await db.flush()
    report.step("Daily loads")

    hrv_rows = wearables.hrv_rows(team_id, days, end, by_day, athletes, extra)
    await bulk.insert_rows(db, DailyHRV, hrv_rows)
    report.step("HRV")
    plan_of = {sid: (day, plan) for day in days for sid, plan in by_day[day]}
    gps = wearables.gps_loads(rows.attendance, plan_of, athletes, end, extra)
    stored = await external.store_loads(db, team_id, ExternalLoadSource.CSV, gps)
    await external.recompute_touched(db, team_id, stored)
    report.step("GPS")
    team = await db.get_one(Team, team_id)
    for source in LoadSource:
        await acwr_engine.refresh(db, [team], source)
    report.step("ACWR")
    # The health data draws from a generator of its own too.
    care = random.Random(seed * 7919 + 2)
    recorded = await health.record(db, team_id, planned, by_day)
    ostrc = health.ostrc_rows(team_id, recorded, athletes, first, end, care)
    await bulk.insert_rows(db, OstrcAnswer, ostrc)
    report.step("Health")
    await alerts.raise_alerts(db, team, end, rows.wellness, hrv_rows)
    await alerts.acknowledge_some(db, team_id, end, extra)
    await db.flush()
    report.step("Alerts")
    return logins


class _Reporter:
    """Counts steps so the command's progress bar moves while the data is built."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0

    def step(self, label: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, label)
