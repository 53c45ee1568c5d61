"""Prometheus scrape endpoint."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.deps import AppSettings
from app.schemas.base import problem_responses
from app.services.integrations import inbox_metrics
from app.services.platform import metrics

router = APIRouter(tags=["operations"])

_metrics_token = HTTPBearer(
    auto_error=False,
    scheme_name="MetricsToken",
    description="LOADLINE_METRICS_TOKEN, required only when it is set.",
)


async def _scraper(
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_metrics_token)],
) -> None:
    metrics.check_scraper(settings, credentials.credentials if credentials else None)


Scraper = Annotated[None, Depends(_scraper)]


@router.get(
    "/metrics",
    operation_id="get_metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {metrics.CONTENT_TYPE: {"schema": {"type": "string"}}},
        },
        **problem_responses(401),
    },
    # The token is optional (required only when LOADLINE_METRICS_TOKEN is set): FastAPI
    # lists the MetricsToken requirement; `{}` adds "or no credentials".
    openapi_extra={"security": [{}]},
)
async def get_metrics(_: Scraper, request: Request) -> Response:
    """Prometheus metrics: requests by method, route template and status class (count and
    latency), scheduled job runs and failures by job, and the webhook inbox's depth.

    Who may read it: when `LOADLINE_METRICS_TOKEN` is set, only a caller presenting
    `Authorization: Bearer <that token>` (else 401); when it is empty the endpoint is open
    and must be reachable only from inside the cluster (do not route `/metrics` through
    the public ingress). Each process counts for itself: run one process per container.
    """
    await inbox_metrics.observe(request.app.state.sessionmaker)
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)
