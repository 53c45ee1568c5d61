"""The one base every request and response model builds on, and the error shapes."""

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

# Dates outside this window are refused: nobody trains in 1066, and far-off dates would
# make ACWR series of centuries.
MIN_DATE = dt.date(2000, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)


class Schema(BaseModel):
    """Unknown fields are refused so a typo in a client is a 422, not silently ignored.

    Infinite and NaN numbers are refused, and so is the NUL character in any text (no
    database stores it faithfully).
    """

    model_config = ConfigDict(from_attributes=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain the NUL character")
        return value


def _no_coercion(value: Any) -> Any:
    """JSON numbers only: ``true`` or ``"7.5"`` where a number belongs is a client bug."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number")
    return value


_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _rfc3339(value: Any) -> Any:
    """A date-time string: pydantic would also read ``"1700000000"`` as a Unix time."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        raise ValueError("must be an RFC 3339 date-time string with an offset")
    return value


def _iso_day(value: Any) -> Any:
    """``YYYY-MM-DD`` only: pydantic would also read a number (or a numeric string) as a
    Unix time and a date-time as its date."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


def _within_years(value: Any) -> Any:
    day = value.date() if isinstance(value, dt.datetime) else value
    if isinstance(day, dt.date) and not MIN_DATE <= day <= MAX_DATE:
        raise ValueError(f"must lie between {MIN_DATE} and {MAX_DATE}")
    return value


Int = Annotated[int, BeforeValidator(_no_coercion)]
Float = Annotated[float, BeforeValidator(_no_coercion)]
# For a date in a query: ``Annotated[dt.date | None, IsoDay, Query(...)]``.
IsoDay = BeforeValidator(_iso_day)
Day = Annotated[dt.date, IsoDay, AfterValidator(_within_years)]
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    AfterValidator(_within_years),
    Field(description="RFC 3339 with an offset, between 2000 and 2100."),
]


class ProblemError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, sent as ``application/problem+json``."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None


ERROR_DESCRIPTIONS = {
    400: "Malformed body",
    401: "No or bad credentials",
    403: "Authenticated but not allowed",
    404: "Unknown, or belongs to a team the caller is not a member of",
    409: "Conflicts with the current state",
    413: "Body too large",
    422: "Validation error; errors[] names each field",
    503: "Temporarily unavailable; retry",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries so generated clients know every error is a ``Problem``.

    The schema reference is filled in by ``app.main`` for every 4xx and 5xx answer.
    """
    return {status: {"description": ERROR_DESCRIPTIONS.get(status, "Error")} for status in statuses}


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may be left out, but not set to null")
    return value


# For PATCH fields that may be left out but not cleared: ``Annotated[X | None, NotNull] = None``.
NotNull = BeforeValidator(_not_null)

MAX_ID = 2**31 - 1
Id = Annotated[
    int,
    BeforeValidator(_no_coercion),
    Field(ge=-MAX_ID, le=MAX_ID, description="An id (a 32-bit integer)."),
]
PathId = Annotated[int, Path(ge=-MAX_ID, le=MAX_ID, description="An id (a 32-bit integer).")]

FromDay = Annotated[
    dt.date | None,
    IsoDay,
    Query(alias="from", ge=MIN_DATE, le=MAX_DATE, description="First day, inclusive."),
]
ToDay = Annotated[
    dt.date | None,
    IsoDay,
    Query(ge=MIN_DATE, le=MAX_DATE, description="Last day, inclusive."),
]

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size (at most 1000).")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip.")]
ShortText = Annotated[str, Field(min_length=1, max_length=120)]
