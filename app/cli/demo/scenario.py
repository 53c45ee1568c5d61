"""The demo's story: its team, its period, the spike player's comeback, and the two shapes
every other module of the demo shares (a planned session, a player with their habits)."""

from dataclasses import dataclass
from datetime import date, time

from app.models import SessionType

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


def phase_of(athlete: Athlete, day: date, end: date) -> str:
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
