"""Liveness and readiness for orchestrators and load balancers."""

from fastapi import APIRouter, Request

from app.errors import Unavailable
from app.schemas import operations as schemas
from app.schemas.base import problem_responses
from app.services.platform.readiness import ReadinessProbe

router = APIRouter(tags=["operations"])


@router.get("/healthz", operation_id="get_health", response_model=schemas.Health)
async def get_health() -> schemas.Health:
    """200 while the process runs."""
    return schemas.Health(status="ok")


@router.get(
    "/readyz",
    operation_id="get_readiness",
    response_model=schemas.Readiness,
    responses=problem_responses(503),
)
async def get_readiness(request: Request) -> schemas.Readiness:
    """200 when the database answers a query within a second, else 503 with
    ``Retry-After``. The probe has a connection of its own: it answers in time also while
    every pooled connection serves a request."""
    probe: ReadinessProbe = request.app.state.readiness
    if not await probe.ready():
        raise Unavailable("The database does not answer", retry_after=5)
    return schemas.Readiness(status="ok")
