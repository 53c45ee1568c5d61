"""Coach reports: the week's loads, ACWR, wellness and attendance as CSV or a printable PDF."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.db import Db
from app.deps import StaffViewOf
from app.schemas.base import problem_responses
from app.services.coach import weekly_csv, weekly_data, weekly_pdf

router = APIRouter(tags=["reports"])

Week = Annotated[
    str | None,
    Query(
        description="The ISO week, YYYY-Www (2000 to 2100); default the current week in the "
        "team's time zone.",
        examples=["2026-W48"],
    ),
]


class CsvResponse(Response):
    media_type = "text/csv"  # Starlette adds "; charset=utf-8"


class PdfResponse(Response):
    media_type = "application/pdf"


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


@router.get(
    "/teams/{team_id}/reports/weekly.csv",
    operation_id="get_weekly_csv",
    response_class=CsvResponse,
    responses={
        200: {
            "description": "One row per active player and day of the week, after a header row",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 403, 404, 422),
    },
)
async def get_weekly_csv(access: StaffViewOf, db: Db, week: Week = None) -> CsvResponse:
    """The week's data per player and day (staff only): sessions, attendance, internal and
    external load, EWMA-ACWR and its zone, wellness total and flag (raised by the player's
    own 28-day baseline, as on the roster), and availability
    (`available`, `modified` or `unavailable`, from the player's health problems; never a
    clinical field). Seven rows per active player, Monday first; days after today have no
    ACWR and no availability."""
    data = await weekly_data.read(db, access.team, week)
    return CsvResponse(
        weekly_csv.render(data), headers=_attachment(weekly_data.filename(data, "csv"))
    )


@router.get(
    "/teams/{team_id}/reports/weekly.pdf",
    operation_id="get_weekly_pdf",
    response_class=PdfResponse,
    responses={
        200: {
            "description": "The printable weekly report (A4)",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problem_responses(401, 403, 404, 422),
    },
)
async def get_weekly_pdf(access: StaffViewOf, db: Db, week: Week = None) -> PdfResponse:
    """The weekly report to print (staff only): a cover with the team and ISO week, the
    roster with each player's status in colour and availability (on the week's last day
    that has begun), the team's daily load, and per player the acute and chronic load over
    four weeks with the ratio over the team's zone bands."""
    data = await weekly_data.read(db, access.team, week)
    return PdfResponse(
        weekly_pdf.render(data), headers=_attachment(weekly_data.filename(data, "pdf"))
    )
