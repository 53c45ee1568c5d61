"""Each day of the demo: the morning's wellness, then each session's attendance and the RPE
players send after it; and this morning's check-ins, so today's dashboard is not empty."""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from app.cli.demo.scenario import (
    HAMSTRING_MINUTE,
    SPIKE_JERSEY,
    SPIKE_RETURN_DAYS,
    Athlete,
    Plan,
    phase_of,
)
from app.models import ATTENDED, AttendanceStatus, SessionType
from app.services.training.srpe import load_au

# Replacement jersey -> the starter they usually come on for.
BENCH_FOR = {16: 2, 17: 1, 18: 3, 19: 5, 20: 9}


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


@dataclass
class Rows:
    """Everything generated for the attendance, sRPE and wellness tables."""

    attendance: list[dict[str, Any]]
    srpe: list[dict[str, Any]]
    wellness: list[dict[str, Any]]


def simulate_day(
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
    """Status and minutes: injuries and illness excused, rare no-shows, a few late arrivals."""
    if day == athlete.hurt_in and plan.session_type == SessionType.MATCH:
        return AttendanceStatus.PRESENT, min(minutes, HAMSTRING_MINUTE)
    phase = phase_of(athlete, day, end)
    if phase in ("injured", "ill"):
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
    phase = phase_of(athlete, day, end)
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
    phase = phase_of(athlete, day, end)
    if phase == "injured":
        soreness -= 1.2
        mood -= 0.6
    elif phase == "ill":
        fatigue -= 1.6
        sleep -= 1.0
        mood -= 0.8
        note = "Stomach bug, staying at home"
    elif phase == "return":
        strain = (SPIKE_RETURN_DAYS - (end - day).days) * 0.18
        soreness -= strain
        fatigue -= strain
        sleep -= strain / 2
    if rng.random() < 0.03:
        sleep -= 2.0
        mood -= 1.0
        note = note or rng.choice(WELLNESS_NOTES)
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


# --- this morning's check-ins ----------------------------------------------------------

BAD_MORNING_JERSEY = 4
"""Reports a tight hamstring this morning: a red check-in on today's dashboard."""
POOR_SLEEP_JERSEY = 13
"""Slept badly last night: an amber check-in on today's dashboard."""


def this_morning(
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
