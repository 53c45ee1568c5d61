"""The weekly OSTRC-H2 questionnaire (Clarsen et al. 2013, 2020): answers as indices, their
scores, and a problem the answer is about (named, or opened by the answer)."""

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, Field

from app.models import BodyArea, ProblemKind
from app.schemas.base import Id, Int, Schema

_ISO_WEEK = re.compile(r"(\d{4})-W(\d{2})")
FIRST_YEAR, LAST_YEAR = 2000, 2100


def week_monday(label: str) -> dt.date:
    """The Monday of ISO week ``YYYY-Www`` (a label already validated by :data:`IsoWeek`)."""
    year, week = label.split("-W")
    return dt.date.fromisocalendar(int(year), int(week), 1)


def _iso_week(value: str) -> str:
    """``YYYY-Www`` naming a week that exists (2025 has no W53, 2026 has one), 2000 to 2100."""
    match = _ISO_WEEK.fullmatch(value)
    if match is None:
        raise ValueError("must be an ISO week YYYY-Www, e.g. 2026-W09")
    year, week = int(match[1]), int(match[2])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"must lie between {FIRST_YEAR}-W01 and {LAST_YEAR}-W52")
    try:
        dt.date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{year} has no ISO week {week}") from None
    return value


IsoWeek = Annotated[
    str,
    Field(
        min_length=8,
        max_length=8,
        examples=["2026-W09"],
        description="ISO week YYYY-Www (Monday first, the ISO year), 2000 to 2100.",
    ),
    AfterValidator(_iso_week),
]

Q1 = (
    "Participation in training and competition: 0 full participation without a health "
    "problem, 1 full participation with a health problem, 2 reduced participation, 3 could "
    "not participate. Scored 0, 8, 17, 25."
)
Q2 = (
    "Training volume reduced by the problem: 0 not at all, 1 to a minor extent, 2 moderate, "
    "3 major, 4 could not participate. Scored 0, 6, 13, 19, 25."
)
Q3 = (
    "Performance affected by the problem: 0 not at all, 1 to a minor extent, 2 moderate, "
    "3 major, 4 could not participate. Scored 0, 6, 13, 19, 25."
)
Q4 = "Symptoms or complaints: 0 none, 1 mild, 2 moderate, 3 severe. Scored 0, 8, 17, 25."
FIRST_STAGE = (
    "A problem opened here has context OTHER, onset on the week's Monday and a first "
    "availability stage from that Monday chosen from q1: 3 (could not participate) -> "
    "UNAVAILABLE, 2 (reduced participation) -> MODIFIED, 1 (full participation with a "
    "problem) -> FULL. Staff refine it later (stages, context, summary)."
)


class NewProblem(Schema):
    """The health problem this answer opens (when the athlete has not reported it yet)."""

    kind: ProblemKind = Field(description="INJURY or ILLNESS.")
    body_area: BodyArea | None = Field(None, description="Where; for an injury mostly.")


class OstrcCreate(Schema):
    week: IsoWeek = Field(
        description="The ISO week answered for, YYYY-Www; not after the current week in the "
        "team's zone."
    )
    q1: Int = Field(ge=0, le=3, description=Q1)
    q2: Int = Field(ge=0, le=4, description=Q2)
    q3: Int = Field(ge=0, le=4, description=Q3)
    q4: Int = Field(ge=0, le=3, description=Q4)
    problem_id: Id | None = Field(
        None,
        description="One of this member's health problems the answer is about (open during "
        "the week). Not with q1 = 0, nor with new_problem.",
    )
    new_problem: NewProblem | None = Field(
        None, description="Opens a problem and links the answer to it (q1 > 0). " + FIRST_STAGE
    )


class OstrcAnswer(Schema):
    id: int
    membership_id: int
    week: str = Field(examples=["2026-W09"], description="ISO week, Monday first.")
    q1: int = Field(description=Q1)
    q2: int = Field(description=Q2)
    q3: int = Field(description=Q3)
    q4: int = Field(description=Q4)
    severity: int = Field(
        ge=0, le=100, description="The sum of the four answers' scores, 0 (none) to 100."
    )
    substantial: bool = Field(
        description="A substantial problem: q2 >= 2 or q3 >= 2 (moderate or more reduction of "
        "training volume or of performance) or q1 = 3 (could not participate)."
    )
    problem_id: int | None = Field(
        description="The health problem the answer is about; null for none or an unnamed one."
    )
