"""The health figures as the contract and the consensus define them, on plain values.

Pure: no database, no service. Availability and time loss follow the IOC consensus on
injury and illness surveillance (Bahr et al. 2020); the OSTRC-H2 scores follow Clarsen et
al. (2013, 2020); incidence and burden are per 1,000 hours of exposure.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from app.models.health import Availability

# Most restrictive first: a member with several problems is as available as the worst.
ORDER = (Availability.UNAVAILABLE, Availability.MODIFIED, Availability.FULL)
MEMBER_AVAILABILITY = {
    Availability.UNAVAILABLE: "unavailable",
    Availability.MODIFIED: "modified",
    Availability.FULL: "available",
}
TIME_LOSS = frozenset({Availability.UNAVAILABLE, Availability.MODIFIED})
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Stage:
    start: date
    availability: Availability


@dataclass(frozen=True)
class Problem:
    """What the rules need of a problem: its dates and its stages (any order)."""

    onset: date
    resolved_on: date | None
    stages: Sequence[Stage]


def availability_on(problem: Problem, day: date) -> Availability | None:
    """The problem's availability on ``day``: its latest stage starting on or before it,
    while the problem is open (onset <= day < resolved_on); None outside that time, or
    before its first stage."""
    if day < problem.onset or (problem.resolved_on is not None and day >= problem.resolved_on):
        return None
    started = [stage for stage in problem.stages if stage.start <= day]
    if not started:
        return None
    return max(started, key=lambda stage: stage.start).availability


def member_availability(problems: Iterable[Problem], day: date) -> str:
    """``available``, ``modified`` or ``unavailable``: the most restrictive of the member's
    problems on ``day`` (``available`` with none)."""
    found = {availability_on(problem, day) for problem in problems}
    for level in ORDER:
        if level in found:
            return MEMBER_AVAILABILITY[level]
    return MEMBER_AVAILABILITY[Availability.FULL]


def days_lost(problem: Problem, today: date, *, start: date | None = None) -> int:
    """Days from onset up to ``today`` (and before ``resolved_on``) on which the problem's
    availability is UNAVAILABLE or MODIFIED: the time loss until full availability.
    ``start`` counts only the days from then on (a report's range)."""
    first = max(problem.onset, start) if start is not None else problem.onset
    last = today if problem.resolved_on is None else min(today, problem.resolved_on - _DAY)
    return sum(
        1
        for offset in range((last - first).days + 1)
        if availability_on(problem, first + timedelta(days=offset)) in TIME_LOSS
    )


# --- OSTRC-H2 ----------------------------------------------------------------------------

Q1_SCORES = (0, 8, 17, 25)  # participation: full, full with a problem, reduced, none
Q2_Q3_SCORES = (0, 6, 13, 19, 25)  # training volume reduced / performance affected
Q4_SCORES = (0, 8, 17, 25)  # symptoms


def ostrc_severity(q1: int, q2: int, q3: int, q4: int) -> int:
    """The sum of the four answers' scores, 0 to 100."""
    return Q1_SCORES[q1] + Q2_Q3_SCORES[q2] + Q2_Q3_SCORES[q3] + Q4_SCORES[q4]


def ostrc_substantial(q1: int, q2: int, q3: int) -> bool:
    """A substantial problem: moderate or more reduction in training volume or in
    performance (q2 or q3 >= 2), or no participation at all (q1 = 3)."""
    return q2 >= 2 or q3 >= 2 or q1 == 3


# --- incidence and burden ------------------------------------------------------------------


def per_1000_hours(count: float, hours: float) -> float | None:
    """``1000 x count / hours``: incidence (problems) or burden (days lost); None without
    exposure."""
    return None if hours <= 0 else 1000 * count / hours


def share(part: int, whole: int) -> float | None:
    """A proportion (prevalence, response rate); None when nobody was counted."""
    return None if whole == 0 else part / whole
