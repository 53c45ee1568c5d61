"""Health problems (injuries and illnesses) with their availability stages.

Two answers: :class:`HealthProblem` for every reader, and :class:`HealthProblemClinical`,
which adds the clinical fields, for the team's MEDICAL staff and the athlete themselves.
For everyone else the clinical fields are absent from the answer (not null).
"""

import datetime as dt
from typing import Annotated, Literal

from fastapi import Query
from pydantic import Field

from app.models import Availability, BodyArea, Mechanism, ProblemContext, ProblemKind, Side
from app.schemas.base import Day, Id, NotNull, Schema

Summary = Annotated[
    str, Field(max_length=2000, description="The text meant for the coaches (not clinical).")
]
Diagnosis = Annotated[str, Field(max_length=500, description="Clinical: MEDICAL staff only.")]
OsiicsCode = Annotated[
    str,
    Field(min_length=1, max_length=16, description="Clinical: the OSIICS code (e.g. TMSX)."),
]
ClinicalNotes = Annotated[str, Field(max_length=5000, description="Clinical: MEDICAL staff only.")]
ExpectedReturn = Annotated[
    Day | None, Field(description="The expected day of return; not before onset_date.")
]
SessionId = Annotated[
    Id | None,
    Field(description="The session it happened in: a session of the member's team on onset_date."),
]

CLINICAL_FIELDS = ("diagnosis", "osiics_code", "clinical_notes")


class HealthProblemCreate(Schema):
    """A new problem; ``availability`` becomes its first stage, from ``onset_date``.

    The clinical fields (``diagnosis``, ``osiics_code``, ``clinical_notes``) are written
    by the team's MEDICAL staff only: anyone else sending one gets a 403.
    """

    kind: ProblemKind
    onset_date: Day = Field(description="The day it began; not in the future (team's zone).")
    context: ProblemContext
    session_id: SessionId = None
    body_area: BodyArea | None = None
    side: Side | None = None
    mechanism: Mechanism | None = None
    availability: Availability = Field(
        Availability.UNAVAILABLE, description="The availability from onset_date on."
    )
    summary: Summary | None = None
    expected_return: ExpectedReturn = None
    diagnosis: Diagnosis | None = None
    osiics_code: OsiicsCode | None = None
    clinical_notes: ClinicalNotes | None = None


class HealthProblemUpdate(Schema):
    """Fields left out stay as they are; the optional ones may be cleared with null.

    ``kind`` cannot change. ``availability`` corrects the first stage (from onset);
    later stages are recorded with ``POST /health-problems/{problem_id}/stages``. A new
    ``onset_date`` moves the first stage with it. ``resolved_on`` (null reopens the
    problem) is not before onset nor the last stage, and not in the future. Sending a
    clinical field (null included: it would erase it) takes MEDICAL staff, else 403.
    """

    onset_date: Annotated[Day | None, NotNull] = None
    context: Annotated[ProblemContext | None, NotNull] = None
    session_id: SessionId = None
    body_area: BodyArea | None = None
    side: Side | None = None
    mechanism: Mechanism | None = None
    availability: Annotated[Availability | None, NotNull] = None
    summary: Summary | None = None
    expected_return: ExpectedReturn = None
    resolved_on: Annotated[
        Day | None,
        Field(description="The first day of full availability again; null: still open."),
    ] = None
    diagnosis: Diagnosis | None = None
    osiics_code: OsiicsCode | None = None
    clinical_notes: ClinicalNotes | None = None


class AvailabilityStageCreate(Schema):
    from_: Day = Field(
        alias="from",
        description="The first day of this availability: not before onset, not after "
        "resolution, not in the future. A stage on the same day is replaced.",
    )
    availability: Availability


class AvailabilityStage(Schema):
    from_: dt.date = Field(alias="from", description="From this day on (until the next stage).")
    availability: Availability


class HealthProblem(Schema):
    """A health problem as every reader allowed to see it gets it (no clinical field)."""

    id: int
    membership_id: int
    kind: ProblemKind
    onset_date: dt.date
    context: ProblemContext
    session_id: int | None
    body_area: BodyArea | None
    side: Side | None
    mechanism: Mechanism | None
    summary: str | None
    expected_return: dt.date | None
    resolved_on: dt.date | None = Field(description="The day it was over; null while open.")
    stages: list[AvailabilityStage] = Field(
        description="Oldest first; the first is from onset_date."
    )
    availability_today: Availability | None = Field(
        description="The problem's availability today (team's zone): its latest stage "
        "from on or before today; null once resolved."
    )
    days_lost: int = Field(
        description="Days from onset up to today, before resolved_on, on which the "
        "availability was UNAVAILABLE or MODIFIED (time loss, IOC consensus 2020)."
    )
    reported_by: int | None = Field(description="The user id of who recorded it.")
    created_at: dt.datetime
    updated_at: dt.datetime


class HealthProblemClinical(HealthProblem):
    """The problem with its clinical fields: for the team's MEDICAL staff and the athlete."""

    diagnosis: str | None
    osiics_code: str | None
    clinical_notes: str | None


# Either answer; the clinical one only for MEDICAL staff of the team and the athlete.
ProblemAnswer = HealthProblemClinical | HealthProblem

ProblemStatus = Annotated[
    Literal["open", "all"],
    Query(description="`open` (the default): problems not resolved; `all`: every problem."),
]
