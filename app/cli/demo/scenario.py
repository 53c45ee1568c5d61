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
HAMSTRING_MINUTE = 52
"""The minute of the match in which the spike player's hamstring went."""


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
    """Days (first and last) the player misses every session with an injury."""
    ill: tuple[date, date] | None = None
    """Days the player stays away from the squad with an illness."""
    rehab: tuple[date, date] | None = None
    """Days of modified training after an injury: no matches, no conditioning."""
    hurt_in: date | None = None
    """The day of the match the player left injured (at ``HAMSTRING_MINUTE``)."""


def phase_of(athlete: Athlete, day: date, end: date) -> str:
    """Where a player stands that day: ``injured``, ``ill``, ``rehab``, ``return`` (the
    spike player's last days) or ``fit``. The health problems of
    :mod:`app.cli.demo.health` are recorded from the same days."""
    if _within(athlete.injured, day):
        return "injured"
    if _within(athlete.ill, day):
        return "ill"
    if _within(athlete.rehab, day):
        return "rehab"
    if athlete.jersey == SPIKE_JERSEY and (end - day).days < SPIKE_RETURN_DAYS:
        return "return"
    return "fit"


def _within(days: tuple[date, date] | None, day: date) -> bool:
    return days is not None and days[0] <= day <= days[1]
