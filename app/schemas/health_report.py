"""The team's health report: exposure, incidence, days lost, burden and the weekly OSTRC-H2
prevalence, as the IOC consensus defines them (Bahr et al. 2020)."""

import datetime as dt

from pydantic import ConfigDict, Field

from app.schemas.base import Schema

UNROUNDED = "Not rounded."


class ExposureHours(Schema):
    training: float = Field(
        description="Hours of the attended (PRESENT or LATE) sessions that are not MATCH: per "
        "player, the attendance's minutes_participated when above 0, else the session's length."
    )
    match: float = Field(description="Hours of the attended MATCH sessions, counted alike.")
    total: float = Field(description="training + match.")


class ProblemCounts(Schema):
    injuries: int = Field(description="Injuries with onset in the range.")
    illnesses: int = Field(description="Illnesses with onset in the range.")


class Incidence(Schema):
    training: float | None = Field(
        description="1000 x problems of context TRAINING with onset in the range / training "
        "hours; null without training exposure. " + UNROUNDED
    )
    match: float | None = Field(
        description="1000 x problems of context MATCH with onset in the range / match hours; "
        "null without match exposure. " + UNROUNDED
    )
    total: float | None = Field(
        description="1000 x every problem with onset in the range (OTHER included) / total "
        "hours; null without exposure. " + UNROUNDED
    )


class HealthWeek(Schema):
    week: str = Field(examples=["2026-W09"], description="ISO week, Monday first.")
    players: int = Field(description="The team's active PLAYER memberships (today).")
    respondents: int = Field(description="Of those players, how many answered OSTRC-H2 that week.")
    prevalence: float | None = Field(
        description="Share of respondents with a health problem (an answer with q1 > 0); "
        "null without respondents."
    )
    prevalence_substantial: float | None = Field(
        description="Share of respondents with a substantial problem (an answer with q2 >= 2, "
        "q3 >= 2 or q1 = 3); null without respondents."
    )


class HealthReport(Schema):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    from_: dt.date = Field(alias="from", description="First day of the range, inclusive.")
    to: dt.date = Field(description="Last day of the range, inclusive (today at most).")
    exposure_hours: ExposureHours
    problems: ProblemCounts
    incidence_per_1000h: Incidence
    days_lost: int = Field(
        description="Days inside the range on which a problem of the team was UNAVAILABLE or "
        "MODIFIED (time loss), summed over the problems (onset before the range included)."
    )
    burden_per_1000h: float | None = Field(
        description="1000 x days_lost / total exposure hours; null without exposure. " + UNROUNDED
    )
    weekly: list[HealthWeek] = Field(
        description="One entry per ISO week overlapping the range, oldest first."
    )
