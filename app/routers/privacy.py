"""A person's copy of their data (export) and its erasure (contract: Privacy)."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from app.db import Db
from app.deps import AppSettings, CurrentUser, OwnerOf
from app.schemas.base import PathId, problem_responses
from app.schemas.privacy import AccountErasure
from app.services.privacy import erasure, export

router = APIRouter(tags=["privacy"])

ZIP: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A ZIP archive, streamed: README.txt (every file and column "
        "described), profile.json, and per membership a folder "
        "team-<team_id>-membership-<id>/ with wellness.csv, srpe.csv, attendance.csv, "
        "daily_loads.csv, external_loads.csv, acwr.csv, hrv.csv, ostrc.csv, "
        "health_problems.json (clinical fields included), devices.json (never a token) and "
        "audit.csv",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _zip(request: Request, plan: export.ExportPlan) -> StreamingResponse:
    """The archive streams after the handler returned (the request's transaction, with
    the audit entries, is committed by then), read by a session of its own."""
    return StreamingResponse(
        export.stream(request.app.state.sessionmaker, plan),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{plan.filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/auth/me/export",
    operation_id="export_my_data",
    response_class=StreamingResponse,
    responses=ZIP | problem_responses(401),
)
async def get_my_export(user: CurrentUser, db: Db, request: Request) -> StreamingResponse:
    """Your own data, in every team you are or were a member of, as a ZIP (GDPR Article
    15 and 20). Each exported membership gets an `export` entry in the audit log."""
    plan = await export.prepare_user(db, user)
    return _zip(request, plan)


@router.get(
    "/teams/{team_id}/members/{membership_id}/export",
    operation_id="export_member",
    response_class=StreamingResponse,
    responses=ZIP | problem_responses(401, 403, 404, 422),
)
async def get_member_export(
    membership_id: PathId, access: OwnerOf, db: Db, request: Request
) -> StreamingResponse:
    """One member's data in this team, as a ZIP (owners: to answer the athlete's access
    request). The account's other teams are not part of it. Recorded in the audit log."""
    plan = await export.prepare_member(db, access, membership_id)
    return _zip(request, plan)


@router.post(
    "/teams/{team_id}/members/{membership_id}/erase",
    operation_id="erase_member",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_erasure(
    membership_id: PathId, access: OwnerOf, db: Db, settings: AppSettings, request: Request
) -> Response:
    """Erase one membership's data (owners). Erased: wellness, sRPE, attendance, daily
    loads, ACWR, HRV, external loads, OSTRC, health problems, alerts, linked devices and
    their vendor tokens; the membership stays, inactive, as the audit log's reference. The
    person's account is erased too unless they are active in another team, where it stays
    theirs (this team then sees `Erased member <id>`). Audit entries stay and an `erase`
    entry is added. Erasing again: 204. The team's only active owner: 409."""
    await erasure.erase_member(db, settings, access, membership_id, _client_address(request))
    return Response(status_code=204)


@router.delete(
    "/auth/me",
    operation_id="delete_me",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 409, 422),
)
async def delete_me(
    body: AccountErasure, user: CurrentUser, db: Db, settings: AppSettings, request: Request
) -> Response:
    """Erase your account in every team, confirmed with your password (a wrong one: 403
    naming `password`; 403 rather than 401, which clients read as an expired token). The
    only active owner of a team: 409 (make someone else owner first). Afterwards the name
    and email are `Erased member <id>`, every token stops working (a repeat is a 401:
    there is no account left to sign in with) and the audit log keeps the record."""
    await erasure.erase_account(db, settings, user, body.password, _client_address(request))
    return Response(status_code=204)
