"""Liveness and readiness for orchestrators and load balancers."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

router = APIRouter(tags=["operations"])


@router.get("/healthz", operation_id="get_health")
async def get_health() -> dict[str, str]:
    """200 while the process runs."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="get_readiness",
    responses={503: {"description": "The database does not answer"}},
)
async def get_readiness(request: Request) -> JSONResponse:
    """200 when the database answers a query, else 503."""
    try:
        async with request.app.state.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError):
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})
