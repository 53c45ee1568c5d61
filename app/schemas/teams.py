"""Teams, their load settings, seasons and members."""

from datetime import date, datetime
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, EmailStr, Field, ValidationInfo, field_validator

from app import models
from app.models import AcwrMethod, Role
from app.schemas.base import Day, Float, Int, NotNull, Schema, ShortText


def _known_zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError(f"Unknown IANA time zone {value!r}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unknown IANA time zone {value!r}") from exc
    return value


# "localtime" and "Factory" are not places: the first depends on the host.
_ZONES = (available_timezones() | {"UTC"}) - {"localtime", "Factory"}
TimeZone = Annotated[
    str,
    Field(max_length=64, description="IANA time zone name, e.g. Europe/London.", examples=["UTC"]),
    AfterValidator(_known_zone),
]


class AcwrSettings(Schema):
    """How ACWR is computed and where its zones lie (team-wide)."""

    method: AcwrMethod = AcwrMethod.WILLIAMS
    acute_days: Int = Field(7, ge=1, le=89)
    chronic_days: Int = Field(28, ge=2, le=90)
    low: Float = Field(0.8, ge=0.01, le=100)
    high: Float = Field(1.3, ge=0.01, le=100)
    danger: Float = Field(1.4, ge=0.01, le=100)

    @classmethod
    def of(cls, team: models.Team) -> Self:
        return cls(
            method=team.acwr_method,
            acute_days=team.acwr_acute_days,
            chronic_days=team.acwr_chronic_days,
            low=team.acwr_low,
            high=team.acwr_high,
            danger=team.acwr_danger,
        )

    @field_validator("chronic_days")
    @classmethod
    def _chronic_after_acute(cls, chronic: int, info: ValidationInfo) -> int:
        acute = info.data.get("acute_days")
        if acute is not None and not acute < chronic:
            raise ValueError("chronic_days must be greater than acute_days")
        return chronic

    @field_validator("high")
    @classmethod
    def _high_above_low(cls, high: float, info: ValidationInfo) -> float:
        low = info.data.get("low")
        if low is not None and not low < high:
            raise ValueError("high must be greater than low")
        return high

    @field_validator("danger")
    @classmethod
    def _danger_from_high(cls, danger: float, info: ValidationInfo) -> float:
        high = info.data.get("high")
        if high is not None and not high <= danger:
            raise ValueError("danger must be at least high")
        return danger


class AcwrSettingsUpdate(Schema):
    """A partial change: only the fields given change; the result is validated whole."""

    method: Annotated[AcwrMethod | None, NotNull] = Field(None)
    acute_days: Annotated[Int | None, NotNull] = Field(None, ge=1, le=89)
    chronic_days: Annotated[Int | None, NotNull] = Field(None, ge=2, le=90)
    low: Annotated[Float | None, NotNull] = Field(None, ge=0.01, le=100)
    high: Annotated[Float | None, NotNull] = Field(None, ge=0.01, le=100)
    danger: Annotated[Float | None, NotNull] = Field(None, ge=0.01, le=100)


# Reminders (contract, Coach views): a local wall-clock time and minutes after a session.
_HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
WellnessAt = Annotated[
    str | None,
    Field(
        pattern=_HH_MM,
        description="Local time (HH:MM, 00:00-23:59, the team's zone) of the daily wellness "
        "reminder; null: off.",
        examples=["08:30"],
    ),
]
SrpeAfterMinutes = Annotated[
    Int | None,
    Field(
        ge=0,
        le=1440,
        description="Minutes (0-1440) after a session's end when its sRPE reminder is due; "
        "null: off.",
    ),
]


class ReminderSettings(Schema):
    """When the team's players are reminded; both null (off) by default."""

    wellness_at: WellnessAt = None
    srpe_after_minutes: SrpeAfterMinutes = None

    @classmethod
    def of(cls, team: models.Team) -> Self:
        at = team.reminder_wellness_at
        return cls(
            wellness_at=None if at is None else at.strftime("%H:%M"),
            srpe_after_minutes=team.reminder_srpe_after_minutes,
        )


class ReminderSettingsUpdate(Schema):
    """A partial change: only the fields given change; null turns a reminder off."""

    wellness_at: WellnessAt = None
    srpe_after_minutes: SrpeAfterMinutes = None


class TeamCreate(Schema):
    name: ShortText
    timezone: TimeZone = "UTC"


class TeamUpdate(Schema):
    """Fields left out stay as they are; none of them may be set to null."""

    name: Annotated[ShortText | None, NotNull] = Field(None)
    timezone: Annotated[TimeZone | None, NotNull] = Field(None)
    acwr: Annotated[AcwrSettingsUpdate | None, NotNull] = Field(None)
    reminders: Annotated[ReminderSettingsUpdate | None, NotNull] = Field(None)


class Team(Schema):
    id: int
    name: str
    timezone: str
    acwr: AcwrSettings
    reminders: ReminderSettings
    created_at: datetime

    @classmethod
    def of(cls, team: models.Team) -> Self:
        return cls(
            id=team.id,
            name=team.name,
            timezone=team.timezone,
            created_at=team.created_at,
            acwr=AcwrSettings.of(team),
            reminders=ReminderSettings.of(team),
        )


class SeasonCreate(Schema):
    name: ShortText
    start_date: Day
    end_date: Day

    @field_validator("end_date")
    @classmethod
    def _not_before_start(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start_date")
        if start is not None and end < start:
            raise ValueError("end_date must not be before start_date")
        return end


class Season(Schema):
    id: int
    team_id: int
    name: str
    start_date: date
    end_date: date


class MemberUser(Schema):
    id: int
    email: str
    full_name: str


class MemberCreate(Schema):
    email: EmailStr = Field(max_length=320)
    full_name: str = Field(min_length=1, max_length=200)
    role: Role = Role.PLAYER
    primary_position: str | None = Field(None, max_length=80, examples=["Winger"])
    jersey_number: Int | None = Field(None, ge=0, le=999)
    external_ref: str | None = Field(
        None, min_length=1, max_length=128, description="The athlete's id in the team's GPS system."
    )


class MemberUpdate(Schema):
    role: Annotated[Role | None, NotNull] = Field(None)
    active: Annotated[bool | None, NotNull] = Field(
        None, description="false deactivates; the member's data is kept."
    )
    primary_position: str | None = Field(None, max_length=80)
    jersey_number: Int | None = Field(None, ge=0, le=999)
    external_ref: str | None = Field(None, min_length=1, max_length=128)


class Member(Schema):
    id: int
    team_id: int
    user: MemberUser
    role: Role
    active: bool
    primary_position: str | None
    jersey_number: int | None
    external_ref: str | None


class Invitation(Schema):
    """An invitation token, shown once: only its hash is stored."""

    token: str = Field(
        description="Registering the member's email with it (`invitation_token`) claims the "
        "account; single-use."
    )
    expires_at: datetime = Field(description="Seven days after it was issued.")


class MemberCreated(Member):
    """The new membership, with the invitation when the person has no claimed account."""

    invitation: Invitation | None = Field(
        description="Present in this answer only, and null unless the person's account is "
        "unclaimed (their email had no account, so one was created without a password, or "
        "staff of another team added them and they have not registered yet): then a new "
        "invitation token for this membership, also emailed when email is configured. "
        "`POST .../members/{membership_id}/invitation` issues a new one."
    )
