"""Coach views: the roster with each player's status, and the morning dashboard."""

import datetime as dt
from typing import Literal

from pydantic import Field

from app.models import Role
from app.schemas.alerts import Alert
from app.schemas.base import Schema

Status = Literal["green", "amber", "red", "no_data"]
STATUS_DESCRIPTION = (
    "The worst of the signals that have data: ACWR zone danger -> red, high or low -> amber, "
    "optimal -> green; the wellness flag of the day (raised by the player's own 28-day "
    "baseline); HRV below -> amber, otherwise green. "
    "An ACWR zone of insufficient_data, a missing wellness entry and an HRV flag that cannot "
    "be computed count as no data for that signal (never as green); no_data when no signal "
    "has data."
)

Availability = Literal["available", "modified", "unavailable"]
AVAILABILITY_DESCRIPTION = (
    "The player's availability on the day from their health problems: the most restrictive "
    "of the problems open that day (unavailable > modified > available), each at its latest "
    "stage starting on or before the day; available with no open problem. It does not enter "
    "`status`."
)
HEALTH_SUMMARY_DESCRIPTION = (
    "The `summary` (the text meant for the coaches) of each health problem open on the day, "
    'oldest first, joined with "; "; null when none has one. Clinical fields (diagnosis, '
    "OSIICS code, clinical notes) never appear here."
)


REASONS_DESCRIPTION = (
    "Why the status is not green: one entry per signal that is amber or red, in the order "
    "acwr, wellness, hrv, each with its level and a sentence with the numbers and the rule "
    '(e.g. "ACWR 1.47 above danger 1.4 on 2026-11-30"). Empty when green or no_data.'
)


class Reason(Schema):
    signal: Literal["acwr", "wellness", "hrv"]
    level: Literal["amber", "red"]
    detail: str = Field(description="A sentence with the numbers and the rule.")


class RosterUser(Schema):
    id: int
    full_name: str
    email: str


class LatestAcwr(Schema):
    date: dt.date
    ratio: float | None
    zone: str = Field(description="low, optimal, high, danger or insufficient_data.")


class WellnessToday(Schema):
    date: dt.date
    total: int
    flag: Literal["red", "amber", "green"] = Field(
        description="The entry's flag as raised by the player's own 28-day baseline."
    )


class RosterEntry(Schema):
    membership_id: int
    user: RosterUser
    role: Role
    primary_position: str | None
    jersey_number: int | None
    latest_acwr: LatestAcwr | None = Field(
        description="The newest internal-load (sRPE) ACWR snapshot, up to today."
    )
    wellness_today: WellnessToday | None
    hrv_flag: Literal["below", "normal", "above"] | None = Field(
        description="Today's HRV flag (7-day rolling ln rMSSD against the 60-day baseline)."
    )
    status: Status = Field(description=STATUS_DESCRIPTION)
    availability: Availability = Field(description=AVAILABILITY_DESCRIPTION)
    health_summary: str | None = Field(description=HEALTH_SUMMARY_DESCRIPTION)
    reasons: list[Reason] = Field(description=REASONS_DESCRIPTION)


class AttendanceCounts(Schema):
    present: int
    late: int
    absent: int
    excused: int
    rate: float | None = Field(
        description="(present + late) / all recorded; null when nothing is recorded."
    )


class Compliance(Schema):
    srpe: float | None = Field(
        description="Share of attended sessions (present or late) with an sRPE; null when none."
    )
    wellness: float = Field(description="Share of the 28 days with a wellness entry.")
    srpe_7d: float | None = Field(
        description="As `srpe`, over the 7 days ending the report's date; null when none."
    )
    wellness_7d: float = Field(
        description="Share of the 7 days ending the report's date with a wellness entry."
    )


class DashboardPlayer(Schema):
    membership_id: int
    full_name: str
    status: Status = Field(description=STATUS_DESCRIPTION)
    reasons: list[Reason] = Field(description=REASONS_DESCRIPTION)
    wellness_submitted: bool
    attendance: AttendanceCounts
    compliance: Compliance
    availability: Availability = Field(description=AVAILABILITY_DESCRIPTION)
    health_summary: str | None = Field(description=HEALTH_SUMMARY_DESCRIPTION)


class AvailabilityCounts(Schema):
    """How many of the players are at each availability on the report's day."""

    available: int
    modified: int
    unavailable: int


class Dashboard(Schema):
    date: dt.date
    players: list[DashboardPlayer]
    availability_counts: AvailabilityCounts
    wellness_missing: list[int]
    open_alerts: list[Alert]
