"""The one base every request and response model builds on, and the error shapes."""

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class Schema(BaseModel):
    """Unknown fields are refused so a typo in a client is a 422, not silently ignored."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


class ProblemError(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details, sent as ``application/problem+json``."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries so generated clients know every error is a ``Problem``."""
    return {
        status: {"model": Problem, "content": {"application/problem+json": {}}}
        for status in statuses
    }


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may be left out, but not set to null")
    return value


# For PATCH fields that may be left out but not cleared: ``Annotated[X | None, NotNull] = None``.
NotNull = BeforeValidator(_not_null)

MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=-MAX_ID, le=MAX_ID, description="An id (a 32-bit integer).")]
PathId = Annotated[int, Path(ge=-MAX_ID, le=MAX_ID, description="An id (a 32-bit integer).")]

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size (at most 1000).")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip.")]
ShortText = Annotated[str, Field(min_length=1, max_length=120)]
