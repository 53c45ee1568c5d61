"""Sessions, attendance, session-RPE, wellness and daily loads."""

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, ValidationInfo, field_validator

from app.models import AttendanceStatus, LoadSource, SessionType
from app.schemas.base import Day, Float, Id, Int, NotNull, Schema, ShortText, Timestamp
from app.schemas.teams import AcwrSettings

Location = Annotated[str, Field(max_length=255)]
Notes = Annotated[str, Field(max_length=5000)]


def _one_decimal(value: float) -> float:
    if abs(value * 10 - round(value * 10)) > 1e-9:
        raise ValueError("takes at most one decimal place")
    return round(value, 1)


Rpe = Annotated[
    Float,
    Field(ge=0, le=10, json_schema_extra={"multipleOf": 0.1}, description="0.0 to 10.0 (CR-10)."),
    AfterValidator(_one_decimal),
]
PlannedRpe = Annotated[
    Rpe | None,
    Field(description="The coach's intended RPE, 0.0 to 10.0 (CR-10, one decimal); null: no plan."),
]


class SessionCreate(Schema):
    team_id: Id
    season_id: Id | None = None
    session_type: SessionType = SessionType.TECHNICAL
    title: ShortText
    start: Timestamp
    end: Timestamp = Field(description="RFC 3339 with an offset; after start.")
    location: Location | None = None
    notes: Notes | None = None
    planned_rpe: PlannedRpe = None

    @field_validator("end")
    @classmethod
    def _ends_after_start(cls, end: dt.datetime, info: ValidationInfo) -> dt.datetime:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError("end must be after start")
        return end


class SessionUpdate(Schema):
    """Fields left out stay as they are; season, location, notes and the planned RPE may be
    cleared with null."""

    season_id: Id | None = None
    session_type: Annotated[SessionType | None, NotNull] = None
    title: Annotated[ShortText | None, NotNull] = None
    start: Annotated[Timestamp | None, NotNull] = None
    end: Annotated[Timestamp | None, NotNull] = None
    location: Location | None = None
    notes: Notes | None = None
    planned_rpe: PlannedRpe = None


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
    planned_rpe: float | None = Field(description="The coach's intended RPE; null: no plan.")
    planned_load_au: int | None = Field(
        description="round(planned_rpe x duration_min), halves rounded up as for an sRPE's "
        "load_au; null without a plan. Follows a change of start, end or planned_rpe."
    )


class RpeSummary(Schema):
    """How hard the players found the session, against the plan."""

    n: int = Field(description="sRPEs recorded for the session.")
    mean_rpe: float | None = Field(description="Mean of their rpe_0_10; null when n is 0.")
    sd_rpe: float | None = Field(description="Sample SD (n - 1); null when n < 2.")
    mean_difference: float | None = Field(
        description="mean_rpe - planned_rpe (above 0: harder than planned); null without a "
        "plan or without sRPEs."
    )


class SessionDetail(Session):
    rpe_summary: RpeSummary | None = Field(
        description="Over the session's sRPEs; only for the team's staff (null for players, "
        "who see only their own sRPE)."
    )


class AttendanceCreate(Schema):
    membership_id: Id
    status: AttendanceStatus = AttendanceStatus.PRESENT
    minutes_participated: Int = Field(0, ge=0, le=600)


class Attendance(Schema):
    membership_id: int
    status: AttendanceStatus
    minutes_participated: int


class SRPECreate(Schema):
    membership_id: Id
    rpe_0_10: Rpe
    duration_min: Int | None = Field(
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


WellnessItem = Annotated[Int, Field(ge=1, le=5, description="1 to 5, 5 is best.")]


class WellnessCreate(Schema):
    membership_id: Id
    date: Annotated[
        Day | None,
        Field(description="Defaults to today in the team's zone; not in the future."),
    ] = None
    sleep_quality: WellnessItem
    mood: WellnessItem
    soreness: WellnessItem = Field(description="5 means no soreness.")
    stress: WellnessItem | None = Field(None, description="5 means very relaxed.")
    fatigue: WellnessItem | None = None
    notes: Notes | None = None


class WellnessItemBaseline(Schema):
    mean: float | None = Field(
        description="Mean of the item over the window, 2 decimals; null when the item was "
        "given fewer than 14 times there."
    )
    sd: float | None = Field(description="Sample SD (n - 1) of the item, 2 decimals; null as mean.")
    z: float | None = Field(
        description="(value - mean) / sd of this entry, 2 decimals; null when sd is 0, the "
        "mean is null or the entry does not give the item. Lower is worse (5 is best)."
    )


class WellnessBaseline(Schema):
    n: int = Field(description="Entries in the 28 days before the entry's date.")
    items: dict[str, WellnessItemBaseline] = Field(
        description="sleep_quality, mood, soreness, stress and fatigue."
    )


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
        description="red if any item is 1, else amber if any is 2, else green; raised (never "
        "lowered) by the baseline: an item with z <= -2 makes it at least red, z <= -1 at "
        "least amber (z decided on 6 decimals)."
    )
    baseline: WellnessBaseline | None = Field(
        description="The athlete's own normal over their entries of the 28 days before the "
        "entry's date (the day excluded); null with fewer than 14 entries there."
    )
    flag_reason: str | None = Field(
        description="The item(s) and the rule(s) that set a flag that is not green, e.g. "
        '"sleep_quality 3 is 2.4 SD below the 28-day mean 4.2 (z <= -2)" or "soreness is 1 '
        '(an item at 1 is red)"; rules joined with "; "; null when green.'
    )


class DailyLoad(Schema):
    date: dt.date
    internal_load_au: int
    external_load_pl: float


ZONE_DESCRIPTION = (
    "Where the EWMA ratio lies against the team's thresholds: insufficient_data (fewer than "
    "chronic_days days since the first load, no ratio, or coverage below 0.9), danger "
    "(ratio > danger), high (ratio > high), low (ratio < low), else optimal. Zones describe "
    "load spikes relative to what the athlete is used to; they are not injury predictions."
)


class AcwrPoint(Schema):
    date: dt.date
    load: float = Field(description="The day's load (0 on a day without one).")
    acute_ewma: float | None
    chronic_ewma: float | None
    ratio: float | None = Field(description="acute_ewma / chronic_ewma.")
    ratio_coupled: float | None = Field(
        description="Mean of the last acute_days days / mean of the last chronic_days days."
    )
    ratio_uncoupled: float | None = Field(
        description="Mean of the last acute_days days / mean of the chronic_days - acute_days "
        "days before them."
    )
    coverage: float = Field(
        description="Share of attended sessions in the last chronic_days days that have an "
        "sRPE (1.0 when none was attended). A missing sRPE counts as 0 load; this shows it."
    )
    zone: Literal["insufficient_data", "low", "optimal", "high", "danger"] = Field(
        description=ZONE_DESCRIPTION
    )


class Acwr(Schema):
    membership_id: int
    source: LoadSource
    settings: AcwrSettings
    points: list[AcwrPoint]


class LoadWeek(Schema):
    week: str = Field(examples=["2026-W47"], description="ISO week, Monday first.")
    total_au: float
    mean_au: float
    sd_au: float = Field(description="Sample SD (n - 1) of the 7 daily loads.")
    monotony: float | None = Field(description="mean / sd (Foster 1998); null when sd is 0.")
    strain: float | None = Field(description="total x monotony.")
    change_pct: float | None = Field(
        description="100 x (total - previous week's total) / previous total; null when that "
        "total was 0."
    )
    planned_au: int | None = Field(
        description="Sum of planned_load_au of the week's team sessions the member was not "
        "marked ABSENT or EXCUSED for; null when none of them had a plan."
    )
