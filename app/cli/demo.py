"""A believable demo team: four months of sessions, attendance, sRPE, wellness, HRV and GPS.

``loadline demo`` loads it so a new install shows something worth looking at: a rugby
squad training five days a week around Saturday matches, a few absences, players who
forget to log, the odd bad morning, and one player whose load spikes after coming back
from injury (the case ACWR exists to catch). On top of that: morning HRV from WHOOP, Oura
or typed in by hand (the spike player's trending down), GPS summaries of every field
session, ACWR snapshots of both load sources, and the alerts the rules would have raised
over the last two weeks, a few of them already acknowledged by the coach. Everything
comes from seeded ``random.Random`` instances so the same seed and day give the same data.
"""

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import upsert
from app.models import (
    ATTENDED,
    Alert,
    AlertKind,
    Attendance,
    AttendanceStatus,
    Base,
    DailyHRV,
    DailyLoad,
    ExternalLoad,
    ExternalLoadSource,
    HrvSource,
    LoadSource,
    Role,
    Season,
    SessionRPE,
    SessionType,
    Team,
    TeamMembership,
    TrainingSession,
    User,
    WellnessLog,
)
from app.models.base import utcnow
from app.services.accounts import service as accounts
from app.services.acwr import engine as acwr_engine
from app.services.alerts import jobs as alert_jobs
from app.services.alerts import service as alerts
from app.services.hrv import baseline as hrv
from app.services.loads import daily as loads
from app.services.platform.days import day_of
from app.services.platform.days import today as local_today
from app.services.training.srpe import load_au

PASSWORD = "loadline-demo"  # noqa: S105 - printed for anyone trying the demo
TEAM_NAME = "Harbour RFC"
TIMEZONE = "Europe/London"
DAYS = 120
SPIKE_JERSEY = 11
"""The winger who returns from a hamstring strain and is thrown straight back in."""
SPIKE_RETURN_DAYS = 10
"""Days before the end on which the spike player returns to full training."""
REHAB_DAYS = 28
"""Days of modified training before the return."""

Progress = Callable[[int, int, str], None]

# Jersey order: 1-15 start, 16-20 are the replacements.
SQUAD: tuple[tuple[str, str], ...] = (
    ("Tom Hargreaves", "Prop"),
    ("Dan Okafor", "Hooker"),
    ("Rhys Pritchard", "Prop"),
    ("Callum Fraser", "Lock"),
    ("Joe Whitfield", "Lock"),
    ("Sam Adeyemi", "Flanker"),
    ("Owen Llewellyn", "Flanker"),
    ("Ben Castleton", "Number 8"),
    ("Alfie Doyle", "Scrum-half"),
    ("Harry Kingsley", "Fly-half"),
    ("Jamie Fitzgerald", "Winger"),
    ("Luke Mensah", "Centre"),
    ("Ethan Marsh", "Centre"),
    ("Kieran O'Neill", "Winger"),
    ("Will Ashby", "Full-back"),
    ("Max Turnbull", "Hooker"),
    ("Ollie Brennan", "Prop"),
    ("Tariq Hussain", "Lock"),
    ("Finn Gallagher", "Flanker"),
    ("Charlie Bell", "Scrum-half"),
)
# Replacement jersey -> the starter they usually come on for.
BENCH_FOR = {16: 2, 17: 1, 18: 3, 19: 5, 20: 9}
STAFF = ((Role.OWNER, "Margaret Quinn", "owner"), (Role.COACH, "Gareth Rowlands", "coach"))
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

# Mean and spread of a player's CR-10 rating for each session type.
RPE_BY_TYPE = {
    SessionType.RECOVERY: (2.6, 0.7),
    SessionType.STRENGTH: (6.0, 0.9),
    SessionType.CONDITIONING: (7.4, 0.9),
    SessionType.TECHNICAL: (4.6, 0.9),
    SessionType.TACTICAL: (5.4, 0.9),
    SessionType.MATCH: (8.2, 0.7),
}
# Hamstring rehab: no sprinting or contact; the rest is done modified.
REHAB_EXCUSED = frozenset({SessionType.MATCH, SessionType.CONDITIONING})
WELLNESS_NOTES = (
    "Tight hamstring",
    "Poor sleep, baby up all night",
    "Busy week at work",
    "Bit of a cold",
    "Sore shoulder after contact",
    "Travelled late",
)


@dataclass(frozen=True)
class Plan:
    """One session on the weekly calendar, in the team's local time."""

    session_type: SessionType
    title: str
    start: time
    minutes: int
    location: str


@dataclass
class Athlete:
    """A player and the habits that make their numbers their own."""

    membership_id: int
    jersey: int
    rpe_offset: float
    srpe_rate: float
    wellness_rate: float
    wellness_base: float
    absence_rate: float
    injured: tuple[date, date] | None = None


@dataclass
class Rows:
    """Everything generated for the attendance, sRPE and wellness tables."""

    attendance: list[dict[str, Any]]
    srpe: list[dict[str, Any]]
    wellness: list[dict[str, Any]]


async def seed(
    session: AsyncSession,
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
    report = _Reporter(progress, total=DAYS + 8)

    team_id, season_id = await _create_team(session, first, end)
    domain = await _free_domain(session)
    logins, athletes = await _create_people(session, team_id, domain, rng)
    _plan_injuries(athletes, first, end, rng)
    report.step("Squad")

    plans = _calendar(first, end, rng)
    session_ids = await _insert_sessions(session, team_id, season_id, plans, tz)
    report.step("Sessions")

    rows = Rows([], [], [])
    days = [first + timedelta(days=i) for i in range(DAYS)]
    by_day: dict[date, list[tuple[int, Plan]]] = {day: [] for day in days}
    for session_id, (day, plan) in zip(session_ids, plans, strict=True):
        by_day[day].append((session_id, plan))
    for day in days:
        _simulate_day(
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
    rows.wellness.extend(_this_morning(team_id, end, athletes, extra))
    await _insert(session, Attendance, rows.attendance)
    await _insert(session, SessionRPE, rows.srpe)
    await _insert(session, WellnessLog, rows.wellness)
    report.step("Saving")
    await loads.rebuild_team(session, team_id)
    await session.flush()
    report.step("Daily loads")

    hrv_rows = _hrv_rows(team_id, days, end, by_day, athletes, extra)
    await _insert(session, DailyHRV, hrv_rows)
    report.step("HRV")
    plan_of = {sid: (day, plan) for day in days for sid, plan in by_day[day]}
    gps = _gps_rows(team_id, rows.attendance, plan_of, athletes, end, extra)
    await _insert(session, ExternalLoad, gps)
    await _store_external(session, team_id, gps)
    report.step("GPS")
    team = await session.get_one(Team, team_id)
    for source in LoadSource:
        await acwr_engine.refresh(session, [team], source)
    report.step("ACWR")
    await _raise_alerts(session, team, end, rows.wellness, hrv_rows)
    await _acknowledge_some(session, team_id, end, extra)
    await session.flush()
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


async def _create_team(session: AsyncSession, first: date, end: date) -> tuple[int, int]:
    """The team and a season that spans the demo period and runs on past it."""
    team = Team(name=TEAM_NAME, timezone=TIMEZONE)
    session.add(team)
    await session.flush()
    start_year = first.year if first.month >= 7 else first.year - 1
    season = Season(
        team_id=team.id,
        name=f"{start_year}/{(start_year + 1) % 100:02d} season",
        start_date=first,
        end_date=max(end + timedelta(days=60), date(start_year + 1, 5, 31)),
    )
    session.add(season)
    await session.flush()
    return team.id, season.id


async def _free_domain(session: AsyncSession) -> str:
    """An email domain nobody uses yet, so loading the demo twice does not collide."""
    for n in range(1, 1000):
        domain = "harbour-rfc.example.com" if n == 1 else f"harbour-rfc-{n}.example.com"
        taken = await session.scalar(select(User.id).where(User.email.like(f"%@{domain}")).limit(1))
        if taken is None:
            return domain
    raise RuntimeError("demo team loaded too many times")


async def _create_people(
    session: AsyncSession, team_id: int, domain: str, rng: random.Random
) -> tuple[list[tuple[str, str]], list[Athlete]]:
    """Owner, coach and the 20 players, all with the one demo password (hashed once)."""
    password_hash = accounts.hash_password(PASSWORD)
    people: list[tuple[Role, str, str, str | None, int | None]] = [
        (role, name, f"{local}@{domain}", None, None) for role, name, local in STAFF
    ]
    for jersey, (name, position) in enumerate(SQUAD, start=1):
        local = name.lower().replace("'", "").replace(" ", ".")
        people.append((Role.PLAYER, name, f"{local}@{domain}", position, jersey))
    user_ids = await _insert_returning(
        session,
        User,
        [
            {"email": email, "full_name": name, "password_hash": password_hash}
            for _, name, email, _, _ in people
        ],
    )
    membership_ids = await _insert_returning(
        session,
        TeamMembership,
        [
            {
                "team_id": team_id,
                "user_id": user_id,
                "role": role,
                "primary_position": position,
                "jersey_number": jersey,
                "external_ref": f"CAT-{jersey:04d}" if jersey else None,
            }
            for user_id, (role, _, _, position, jersey) in zip(user_ids, people, strict=True)
        ],
    )
    athletes = [
        _athlete(membership_id, jersey, rng)
        for membership_id, (_, _, _, _, jersey) in zip(membership_ids, people, strict=True)
        if jersey is not None
    ]
    players = {jersey: email for _, _, email, _, jersey in people if jersey is not None}
    logins = [(str(role), email) for role, _, email, _, jersey in people if jersey is None]
    logins += [(str(Role.PLAYER), players[j]) for j in (SPIKE_JERSEY, 10, 2)]
    return logins, athletes


FORGETFUL_JERSEYS = (7, 14)


def _srpe_rate(jersey: int, rng: random.Random) -> float:
    """Most players rate nearly every session; two forgetful ones leave coverage below 0.9,
    so the demo shows how missing sRPE greys a player's ACWR zone out."""
    if jersey == SPIKE_JERSEY:
        return 1.0
    if jersey in FORGETFUL_JERSEYS:
        return rng.uniform(0.7, 0.8)
    return rng.uniform(0.95, 1.0)


def _athlete(membership_id: int, jersey: int, rng: random.Random) -> Athlete:
    """Habits differ: some players rate hard, some forget their RPE, some sleep badly."""
    return Athlete(
        membership_id=membership_id,
        jersey=jersey,
        rpe_offset=rng.gauss(0, 0.45),
        srpe_rate=_srpe_rate(jersey, rng),
        wellness_rate=rng.uniform(0.76, 0.96),
        wellness_base=rng.uniform(3.5, 4.2),
        absence_rate=rng.uniform(0.01, 0.06),
    )


def _plan_injuries(athletes: Sequence[Athlete], first: date, end: date, rng: random.Random) -> None:
    """Two other players miss a week or two with a knock, early enough to be back by now."""
    others = [a for a in athletes if a.jersey != SPIKE_JERSEY]
    for athlete in rng.sample(others, 2):
        start = first + timedelta(days=rng.randint(10, DAYS - 60))
        athlete.injured = (start, start + timedelta(days=rng.randint(7, 14)))
    spike = next(a for a in athletes if a.jersey == SPIKE_JERSEY)
    spike.absence_rate = 0.0
    spike.injured = (
        end - timedelta(days=SPIKE_RETURN_DAYS + REHAB_DAYS + 6),
        end - timedelta(days=SPIKE_RETURN_DAYS + REHAB_DAYS),
    )


def _calendar(first: date, end: date, rng: random.Random) -> list[tuple[date, Plan]]:
    """Every session of the period: a Saturday match each week but every fifth (a bye).

    Weeks run Monday to Sunday, so a Sunday recovery follows that week's Saturday.
    """
    first_monday = first - timedelta(days=first.weekday())
    planned: list[tuple[date, Plan]] = []
    for offset in range((end - first).days + 1):
        day = first + timedelta(days=offset)
        week = (day - first_monday).days // 7
        planned.extend((day, plan) for plan in _day_plan(day, week, week % 5 == 3, rng))
    return planned


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


async def _insert_sessions(
    session: AsyncSession,
    team_id: int,
    season_id: int,
    plans: Sequence[tuple[date, Plan]],
    tz: ZoneInfo,
) -> list[int]:
    """Store the calendar with UTC start and end, and the day each counts on locally."""
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
            }
        )
    return await _insert_returning(session, TrainingSession, rows)


def _simulate_day(
    rows: Rows,
    team_id: int,
    day: date,
    end: date,
    sessions_today: Sequence[tuple[int, Plan]],
    sessions_yesterday: Sequence[tuple[int, Plan]],
    athletes: Sequence[Athlete],
    rng: random.Random,
) -> None:
    """Morning wellness, then each session's attendance and the RPE players send after it."""
    yesterday = {plan.session_type for _, plan in sessions_yesterday}
    for athlete in athletes:
        wellness = _wellness(athlete, day, end, yesterday, rng)
        if wellness is not None:
            rows.wellness.append(
                {
                    "team_id": team_id,
                    "membership_id": athlete.membership_id,
                    "date": day,
                    **wellness,
                }
            )
    for session_id, plan in sessions_today:
        minutes = _minutes_played(plan, athletes, rng)
        for athlete in athletes:
            status, played = _attendance(athlete, plan, day, end, minutes[athlete.jersey], rng)
            rows.attendance.append(
                {
                    "team_id": team_id,
                    "session_id": session_id,
                    "membership_id": athlete.membership_id,
                    "status": status,
                    "minutes_participated": played,
                }
            )
            if status not in ATTENDED or played < 1 or rng.random() > athlete.srpe_rate:
                continue
            rpe = _rpe(athlete, plan, day, end, rng)
            rows.srpe.append(
                {
                    "team_id": team_id,
                    "session_id": session_id,
                    "membership_id": athlete.membership_id,
                    "rpe_0_10": Decimal(str(rpe)),
                    "duration_min": played,
                    "load_au": load_au(rpe, played),
                }
            )


def _phase(athlete: Athlete, day: date, end: date) -> str:
    """Where a player stands that day: ``injured``, ``rehab``, ``return`` or ``fit``."""
    if athlete.injured and athlete.injured[0] <= day <= athlete.injured[1]:
        return "injured"
    if athlete.jersey != SPIKE_JERSEY:
        return "fit"
    days_left = (end - day).days
    if days_left < SPIKE_RETURN_DAYS:
        return "return"
    if days_left < SPIKE_RETURN_DAYS + REHAB_DAYS:
        return "rehab"
    return "fit"


def _minutes_played(plan: Plan, athletes: Sequence[Athlete], rng: random.Random) -> dict[int, int]:
    """Minutes per jersey: the whole session, except a match where the bench comes on."""
    minutes = {a.jersey: plan.minutes for a in athletes}
    if plan.session_type != SessionType.MATCH:
        return minutes
    for athlete in athletes:
        minutes[athlete.jersey] = 80 if athlete.jersey <= 15 else 0
    for bench, starter in BENCH_FOR.items():
        swap = rng.randint(48, 68)
        minutes[starter], minutes[bench] = swap, 80 - swap
    return minutes


def _attendance(
    athlete: Athlete, plan: Plan, day: date, end: date, minutes: int, rng: random.Random
) -> tuple[AttendanceStatus, int]:
    """Status and minutes: injuries excused, rare no-shows, a few late arrivals."""
    phase = _phase(athlete, day, end)
    if phase == "injured":
        return AttendanceStatus.EXCUSED, 0
    if phase == "rehab":
        if plan.session_type in REHAB_EXCUSED:
            return AttendanceStatus.EXCUSED, 0
        return AttendanceStatus.PRESENT, max(1, round(minutes * 0.85))
    if phase == "return":
        return AttendanceStatus.PRESENT, 80 if plan.session_type == SessionType.MATCH else minutes
    roll = rng.random()
    if roll < athlete.absence_rate:
        return AttendanceStatus.ABSENT, 0
    if roll < athlete.absence_rate + 0.02:
        return AttendanceStatus.EXCUSED, 0
    if minutes > 0 and roll < athlete.absence_rate + 0.06:
        return AttendanceStatus.LATE, max(1, minutes - rng.choice((10, 15, 20)))
    return AttendanceStatus.PRESENT, minutes


def _rpe(athlete: Athlete, plan: Plan, day: date, end: date, rng: random.Random) -> float:
    """A CR-10 rating with one decimal, by session type, player habit and phase."""
    mean, spread = RPE_BY_TYPE[plan.session_type]
    phase = _phase(athlete, day, end)
    if phase == "rehab":
        mean *= 0.85
    elif phase == "return":
        mean += 1.0
    value = rng.gauss(mean + athlete.rpe_offset, spread)
    return round(min(10.0, max(1.0, value)), 1)


def _wellness(
    athlete: Athlete, day: date, end: date, yesterday: set[SessionType], rng: random.Random
) -> dict[str, Any] | None:
    """A morning check-in, or None when the player skipped it (more often on Sundays)."""
    rate = athlete.wellness_rate * (0.85 if day.weekday() == 6 else 1.0)
    if rng.random() > rate:
        return None
    base = athlete.wellness_base
    sleep, mood, soreness, stress, fatigue = base, base, base, base, base
    if SessionType.MATCH in yesterday:
        soreness -= 1.0
        fatigue -= 0.8
    elif SessionType.CONDITIONING in yesterday:
        soreness -= 0.5
        fatigue -= 0.4
    note = None
    phase = _phase(athlete, day, end)
    if phase == "injured":
        soreness -= 1.2
        mood -= 0.6
    elif phase == "return":
        strain = (SPIKE_RETURN_DAYS - (end - day).days) * 0.18
        soreness -= strain
        fatigue -= strain
        sleep -= strain / 2
    if rng.random() < 0.03:
        sleep -= 2.0
        mood -= 1.0
        note = rng.choice(WELLNESS_NOTES)
    if rng.random() < 0.02:
        stress -= 2.0
        note = note or "Busy week at work"
    return {
        "sleep_quality": _likert(sleep, rng),
        "mood": _likert(mood, rng),
        "soreness": _likert(soreness, rng),
        "stress": _likert(stress, rng) if rng.random() > 0.05 else None,
        "fatigue": _likert(fatigue, rng),
        "notes": note,
    }


def _likert(mean: float, rng: random.Random) -> int:
    """A 1-5 answer scattered around ``mean``."""
    return min(5, max(1, round(rng.gauss(mean, 0.55))))


async def _insert_returning(
    session: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Bulk insert and the new ids in the order of ``rows`` (one round trip per batch)."""
    table = model.__table__
    result = await session.execute(
        insert(model).returning(table.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [int(row_id) for row_id in result.scalars()]


async def _insert(session: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert in batches, so no single statement grows past a driver's limits."""
    for index in range(0, len(rows), 2000):
        await session.execute(insert(model), list(rows[index : index + 2000]))


# --- this morning's check-ins ----------------------------------------------------------

BAD_MORNING_JERSEY = 4
"""Reports a tight hamstring this morning: a red check-in on today's dashboard."""
POOR_SLEEP_JERSEY = 13
"""Slept badly last night: an amber check-in on today's dashboard."""


def _this_morning(
    team_id: int, end: date, athletes: Sequence[Athlete], rng: random.Random
) -> list[dict[str, Any]]:
    """Today's wellness (the day after the last training day), so the morning dashboard is
    not empty: most players have checked in, two red (the spike player's legs are heavy)
    and one amber."""
    day = end + timedelta(days=1)
    entries = []
    for athlete in athletes:
        wellness = _wellness(athlete, day, end, set(), rng)
        if athlete.jersey == BAD_MORNING_JERSEY:
            wellness = _scripted(rng, soreness=1, note="Tight hamstring, iced it last night")
        elif athlete.jersey == SPIKE_JERSEY:
            wellness = _scripted(rng, fatigue=1, soreness=2, note="Legs heavy, hamstring tight")
        elif athlete.jersey == POOR_SLEEP_JERSEY:
            wellness = _scripted(rng, sleep_quality=2, note="Poor sleep, baby up all night")
        elif wellness is not None:
            # The other mornings of the squad are fine today: keep them at 3 or better.
            wellness = {k: max(3, v) if isinstance(v, int) else v for k, v in wellness.items()}
        if wellness is not None:
            entries.append(
                {
                    "team_id": team_id,
                    "membership_id": athlete.membership_id,
                    "date": day,
                    **wellness,
                }
            )
    return entries


def _scripted(rng: random.Random, note: str, **items: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        item: rng.choice((3, 4)) for item in ("sleep_quality", "mood", "soreness", "stress")
    }
    values["fatigue"] = 3
    return values | items | {"notes": note}


# --- HRV ------------------------------------------------------------------------------

DEVICE_PLAYERS = 10  # WHOOP or Oura, the spike player among them
MANUAL_PLAYERS = 4  # type their morning reading in by hand
HRV_NOISE_LN = 0.07  # day-to-day spread of ln rMSSD
HRV_AFTER = {SessionType.MATCH: 0.14, SessionType.CONDITIONING: 0.06}
HRV_SPIKE_SLIDE_LN = 0.035  # per day of the spike player's last 10 days


def _hrv_rows(
    team_id: int,
    days: Sequence[date],
    end: date,
    by_day: dict[date, list[tuple[int, Plan]]],
    athletes: Sequence[Athlete],
    rng: random.Random,
) -> list[dict[str, Any]]:
    """Morning rMSSD for about two thirds of the squad, through this morning.

    Each player has their own level (40-110 ms) and wobbles around it day to day; the
    morning after a match (or hard conditioning) is lower. The spike player's values slide
    over his last ten days, so his 7-day mean falls below his baseline band.
    """
    spike = next(a for a in athletes if a.jersey == SPIKE_JERSEY)
    others = [a for a in athletes if a.jersey != SPIKE_JERSEY]
    picked = rng.sample(others, DEVICE_PLAYERS - 1 + MANUAL_PLAYERS)
    sources = {spike.membership_id: HrvSource.WHOOP}
    for index, athlete in enumerate(picked[: DEVICE_PLAYERS - 1]):
        sources[athlete.membership_id] = HrvSource.OURA if index % 2 else HrvSource.WHOOP
    for athlete in picked[DEVICE_PLAYERS - 1 :]:
        sources[athlete.membership_id] = HrvSource.MANUAL
    mornings = [*days, end + timedelta(days=1)]
    out: list[dict[str, Any]] = []
    for athlete in athletes:
        source = sources.get(athlete.membership_id)
        if source is None:
            continue
        level = math.log(rng.uniform(50, 95))
        rate = 0.62 if source == HrvSource.MANUAL else 0.93
        drift = 0.0
        for day in mornings:
            drift = 0.8 * drift + rng.gauss(0, 0.015)  # a slow wander, week to week
            if rng.random() > rate:
                continue
            yesterday = {p.session_type for _, p in by_day.get(day - timedelta(days=1), [])}
            ln = level + drift + rng.gauss(0, HRV_NOISE_LN)
            ln -= max((HRV_AFTER.get(kind, 0.0) for kind in yesterday), default=0.0)
            if _phase(athlete, day, end) == "injured":
                ln -= 0.05
            days_left = (end - day).days
            if athlete.jersey == SPIKE_JERSEY and days_left < SPIKE_RETURN_DAYS:
                ln -= HRV_SPIKE_SLIDE_LN * (SPIKE_RETURN_DAYS - days_left)
            rmssd = round(min(110.0, max(40.0, math.exp(ln))), 1)
            out.append(
                {
                    "team_id": team_id,
                    "membership_id": athlete.membership_id,
                    "date": day,
                    "rmssd_ms": rmssd,
                    "ln_rmssd": math.log(rmssd),
                    "source": source,
                }
            )
    return out


# --- GPS ------------------------------------------------------------------------------

# Per minute on the pitch: PlayerLoad, metres, share of them at high speed, sprints.
GPS_BY_TYPE = {
    SessionType.MATCH: (10.5, 88.0, 0.12, 1.0),
    SessionType.CONDITIONING: (8.0, 78.0, 0.10, 0.6),
    SessionType.TACTICAL: (6.2, 66.0, 0.06, 0.3),
    SessionType.TECHNICAL: (5.0, 55.0, 0.04, 0.15),
}
WARM_UP = (20, 3.0, 50.0)  # minutes, PlayerLoad and metres per minute
BACKS = frozenset({9, 10, 11, 12, 13, 14, 15, 20})


def _gps_rows(
    team_id: int,
    attendance: Sequence[dict[str, Any]],
    plan_of: dict[int, tuple[date, Plan]],
    athletes: Sequence[Athlete],
    end: date,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """One GPS summary per attended field session (the gym and the pool have none)."""
    by_id = {a.membership_id: a for a in athletes}
    engine = {a.membership_id: rng.gauss(1.0, 0.06) for a in athletes}
    out: list[dict[str, Any]] = []
    for row in attendance:
        day, plan = plan_of[row["session_id"]]
        work = GPS_BY_TYPE.get(plan.session_type)
        played = row["minutes_participated"]
        if work is None or row["status"] not in ATTENDED or played < 1:
            continue
        athlete = by_id[row["membership_id"]]
        per_min_load, per_min_m, hsr_share, sprints_per_10 = work
        intensity = engine[athlete.membership_id] * rng.gauss(1.0, 0.07)
        phase = _phase(athlete, day, end)
        if phase == "rehab":
            intensity *= 0.7
        elif phase == "return":
            intensity *= 1.15
        back = athlete.jersey in BACKS
        warm_minutes, warm_load, warm_m = WARM_UP
        bench = max(0, plan.minutes - played) if plan.session_type == SessionType.MATCH else 0
        metres = warm_minutes * warm_m + bench * 20.0
        metres += played * per_min_m * intensity * (1.08 if back else 1.0)
        player_load = warm_minutes * warm_load + played * per_min_load * intensity
        player_load *= 1.0 if back else 1.05  # forwards' contact work reads as load
        hsr = metres * hsr_share * (1.6 if back else 1.0) * rng.gauss(1.0, 0.1)
        sprints = played / 10 * sprints_per_10 * (1.8 if back else 1.0) * rng.gauss(1.0, 0.2)
        out.append(
            {
                "team_id": team_id,
                "membership_id": athlete.membership_id,
                "date": day,
                "source": ExternalLoadSource.CSV,
                "event_key": f"demo:{row['session_id']}:{athlete.membership_id}",
                "player_load": round(player_load, 1),
                "distance_m": round(min(9000.0, max(3000.0, metres))),
                "hsr_m": round(max(0.0, hsr)),
                "sprints": max(0, round(sprints)),
            }
        )
    return out


async def _store_external(
    session: AsyncSession, team_id: int, gps: Sequence[dict[str, Any]]
) -> None:
    """Each member's daily external load: the sum of their GPS loads that day, as
    ``external_loads.recompute_external`` would store it (rounded to 2 decimals)."""
    totals: dict[tuple[int, date], float] = {}
    for row in gps:
        key = (row["membership_id"], row["date"])
        totals[key] = totals.get(key, 0.0) + row["player_load"]
    rows = [
        {
            "team_id": team_id,
            "membership_id": member,
            "date": day,
            "internal_load_au": 0,
            "external_load_pl": round(total, 2),
            "attended_sessions": 0,
            "rated_sessions": 0,
        }
        for (member, day), total in sorted(totals.items())
    ]
    for start in range(0, len(rows), 1000):
        await upsert(
            session,
            DailyLoad,
            rows[start : start + 1000],
            conflict=["membership_id", "date"],
            update=["external_load_pl"],
        )


# --- alerts ---------------------------------------------------------------------------

ALERT_DAYS = 14
"""The alerts of the last two weeks are raised, as if the rules had been running."""


async def _raise_alerts(
    session: AsyncSession,
    team: Team,
    end: date,
    wellness_rows: Sequence[dict[str, Any]],
    hrv_rows: Sequence[dict[str, Any]],
) -> None:
    """Raise what the rules would have raised over the last ``ALERT_DAYS`` days and this
    morning, through the alert service, so messages and evidence are the real ones."""
    players = {
        m.id: m
        for m in await session.scalars(
            select(TeamMembership).where(
                TeamMembership.team_id == team.id, TeamMembership.role == Role.PLAYER
            )
        )
    }
    since = end - timedelta(days=ALERT_DAYS - 1)
    for row in wellness_rows:
        if row["date"] >= since:
            log = WellnessLog(**row)
            await alerts.on_wellness(session, players[row["membership_id"]], log)
    values: dict[int, dict[date, float]] = {}
    for row in hrv_rows:
        values.setdefault(row["membership_id"], {})[row["date"]] = row["rmssd_ms"]
    for membership_id, by_day in values.items():
        for day, rmssd in sorted(by_day.items()):
            if day >= since and hrv.drop_check(day, rmssd, by_day) is not None:
                await alerts.on_hrv(session, players[membership_id], day)
    await alert_jobs.acwr_history_alerts(session, team, players, since, end)
    # Each player's newest day: ACWR, HRV below normal, and missing sRPE (14 days back).
    await alert_jobs.team_alerts(session, team, utcnow())


ACK_NOTES = (
    "Spoke to him at training, reminded him to log",
    "Checked in with physio, nothing to worry about",
    "Seen, keeping an eye on it",
)


async def _acknowledge_some(
    session: AsyncSession, team_id: int, end: date, rng: random.Random
) -> None:
    """The coach has already dealt with a few of the older alerts (the newest stay open)."""
    coach = await session.scalar(
        select(TeamMembership.user_id).where(
            TeamMembership.team_id == team_id, TeamMembership.role == Role.COACH
        )
    )
    older = list(
        await session.execute(
            select(Alert.id, Alert.kind, Alert.date)
            .where(Alert.team_id == team_id, Alert.date <= end - timedelta(days=4))
            .order_by(Alert.date, Alert.id)
        )
    )
    missing = [i for i, kind, _ in older if kind == AlertKind.MISSING_SRPE]
    chosen = rng.sample(missing, min(3, len(missing)))
    reds = [i for i, kind, _ in older if kind == AlertKind.WELLNESS_RED]
    chosen += reds[:1]  # the oldest red morning was followed up (today's reds stay open)
    tz = ZoneInfo(TIMEZONE)
    for alert_id, _, day in (row for row in older if row[0] in chosen):
        seen = datetime.combine(day + timedelta(days=1), time(8, rng.randint(0, 59)), tz)
        await session.execute(
            update(Alert)
            .where(Alert.id == alert_id)
            .values(
                acknowledged_at=min(seen.astimezone(UTC), utcnow()),
                acknowledged_by=coach,
                note=rng.choice(ACK_NOTES),
            )
        )
