"""Sessions, attendance, session-RPE, wellness and daily loads."""

import datetime as dt
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, AwareDatetime, Field, model_validator

from app.models import AttendanceStatus, SessionType
from app.schemas.base import NotNull, Schema, ShortText

Location = Annotated[str, Field(max_length=255)]
Notes = Annotated[str, Field(max_length=5000)]


class SessionCreate(Schema):
    team_id: int
    season_id: int | None = None
    session_type: SessionType = SessionType.TECHNICAL
    title: ShortText
    start: AwareDatetime = Field(description="RFC 3339 with an offset.")
    end: AwareDatetime = Field(description="RFC 3339 with an offset; after start.")
    location: Location | None = None
    notes: Notes | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class SessionUpdate(Schema):
    """Fields left out stay as they are; season, location and notes may be cleared with null."""

    season_id: int | None = None
    session_type: Annotated[SessionType | None, NotNull] = None
    title: Annotated[ShortText | None, NotNull] = None
    start: Annotated[AwareDatetime | None, NotNull] = None
    end: Annotated[AwareDatetime | None, NotNull] = None
    location: Location | None = None
    notes: Notes | None = None


class Session(Schema):
    id: int
    team_id: int
    season_id: int | None
    session_type: SessionType
    title: str
    start: AwareDatetime
    end: AwareDatetime
    day: dt.date = Field(description="The session's calendar day in the team's time zone.")
    duration_min: int
    location: str | None
    notes: str | None


class AttendanceCreate(Schema):
    membership_id: int
    status: AttendanceStatus = AttendanceStatus.PRESENT
    minutes_participated: int = Field(0, ge=0, le=600)


class Attendance(Schema):
    membership_id: int
    status: AttendanceStatus
    minutes_participated: int


def _one_decimal(value: float) -> float:
    if abs(value * 10 - round(value * 10)) > 1e-6:
        raise ValueError("rpe_0_10 takes at most one decimal place")
    return round(value, 1)


Rpe = Annotated[
    float,
    Field(ge=0, le=10, json_schema_extra={"multipleOf": 0.1}, description="0.0 to 10.0 (CR-10)."),
    AfterValidator(_one_decimal),
]


class SRPECreate(Schema):
    membership_id: int
    rpe_0_10: Rpe
    duration_min: int | None = Field(
        None,
        ge=1,
        le=600,
        description="Minutes. Left out: the attendance minutes if above 0, else the session's "
        "length (capped at 600).",
    )


class SRPE(Schema):
    id: int
    session_id: int
    membership_id: int
    rpe_0_10: float
    duration_min: int
    load_au: int = Field(description="round(rpe_0_10 x duration_min), halves rounded up.")


WellnessItem = Annotated[int, Field(ge=1, le=5, description="1 to 5, 5 is best.")]


class WellnessCreate(Schema):
    membership_id: int
    date: Annotated[
        dt.date | None,
        Field(description="Defaults to today in the team's zone; not in the future."),
    ] = None
    sleep_quality: WellnessItem
    mood: WellnessItem
    soreness: WellnessItem = Field(description="5 means no soreness.")
    stress: WellnessItem | None = Field(None, description="5 means very relaxed.")
    fatigue: WellnessItem | None = None
    notes: Notes | None = None


class Wellness(Schema):
    id: int
    membership_id: int
    date: dt.date
    sleep_quality: int
    mood: int
    soreness: int
    stress: int | None
    fatigue: int | None
    notes: str | None
    total: int = Field(description="Sum of the items given.")
    flag: Literal["red", "amber", "green"] = Field(
        description="red if any item is 1, else amber if any is 2, else green."
    )


class DailyLoad(Schema):
    date: dt.date
    internal_load_au: int
    external_load_pl: float
