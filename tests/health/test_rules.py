"""The health rules on hand-worked examples (no database)."""

from datetime import date

import pytest

from app.models import Availability
from app.services.health.rules import (
    Problem,
    Stage,
    availability_on,
    days_lost,
    member_availability,
    ostrc_severity,
    ostrc_substantial,
    per_1000_hours,
    share,
)

U, M, F = Availability.UNAVAILABLE, Availability.MODIFIED, Availability.FULL
D = date(2026, 3, 1)  # a Sunday; day n of the example is date(2026, 3, n)


def _hamstring() -> Problem:
    """Onset 2 March in a match: unavailable 2-9 March, modified 10-16, full from 17,
    resolved on 23 March."""
    return Problem(
        onset=date(2026, 3, 2),
        resolved_on=date(2026, 3, 23),
        stages=[
            Stage(date(2026, 3, 17), F),
            Stage(date(2026, 3, 2), U),
            Stage(date(2026, 3, 10), M),
        ],
    )


def test_availability_follows_the_latest_stage_while_open() -> None:
    problem = _hamstring()
    assert availability_on(problem, date(2026, 3, 1)) is None  # before onset
    assert availability_on(problem, date(2026, 3, 2)) == U
    assert availability_on(problem, date(2026, 3, 9)) == U
    assert availability_on(problem, date(2026, 3, 10)) == M
    assert availability_on(problem, date(2026, 3, 17)) == F
    assert availability_on(problem, date(2026, 3, 23)) is None  # resolved that day


def test_a_member_is_as_available_as_their_worst_problem() -> None:
    """On 12 March the hamstring is MODIFIED; a cold from 11 March UNAVAILABLE: the member
    is unavailable. On 20 March only FULL stages: available. With none: available."""
    cold = Problem(date(2026, 3, 11), date(2026, 3, 15), [Stage(date(2026, 3, 11), U)])
    problems = [_hamstring(), cold]
    assert member_availability(problems, date(2026, 3, 12)) == "unavailable"
    assert member_availability(problems, date(2026, 3, 16)) == "modified"
    assert member_availability(problems, date(2026, 3, 20)) == "available"
    assert member_availability([], date(2026, 3, 20)) == "available"


def test_days_lost_counts_unavailable_and_modified_days() -> None:
    """Unavailable 2-9 March (8 days) and modified 10-16 March (7 days): 15 days lost,
    whatever day after the 16th it is counted. On 5 March: 4 days (2, 3, 4 and 5). Within a
    report from 8 March: 8-16 March, 9 days."""
    problem = _hamstring()
    assert days_lost(problem, date(2026, 3, 30)) == 15
    assert days_lost(problem, date(2026, 3, 5)) == 4
    assert days_lost(problem, date(2026, 3, 30), start=date(2026, 3, 8)) == 9


def test_an_open_problem_counts_up_to_today() -> None:
    """An illness from 1 March with no later stage, still open on 4 March: 4 days."""
    illness = Problem(D, None, [Stage(D, U)])
    assert days_lost(illness, date(2026, 3, 4)) == 4


@pytest.mark.parametrize(
    ("answers", "severity", "substantial"),
    [
        ((0, 0, 0, 0), 0, False),
        ((1, 1, 0, 1), 8 + 6 + 0 + 8, False),  # full participation with a problem: 22
        ((2, 2, 1, 2), 17 + 13 + 6 + 17, True),  # moderate reduction in volume: 53
        ((3, 4, 4, 3), 100, True),  # could not participate at all
        ((1, 0, 2, 0), 8 + 0 + 13 + 0, True),  # performance moderately affected: 21
    ],
)
def test_ostrc_h2_scores(
    answers: tuple[int, int, int, int], severity: int, substantial: bool
) -> None:
    assert ostrc_severity(*answers) == severity
    assert ostrc_substantial(*answers[:3]) is substantial


def test_incidence_and_burden_per_1000_hours() -> None:
    """3 injuries in 1,500 h of exposure: 2.0 per 1,000 h; 45 days lost in the same hours:
    a burden of 30 days per 1,000 h; no exposure: no figure. 4 of 5 respondents: 0.8."""
    assert per_1000_hours(3, 1500) == pytest.approx(2.0)
    assert per_1000_hours(45, 1500) == pytest.approx(30.0)
    assert per_1000_hours(3, 0) is None
    assert share(4, 5) == pytest.approx(0.8)
    assert share(0, 0) is None
