"""Health probes: liveness without dependencies, readiness with them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from shared.http.pipeline import ApiRequest, ApiResponse, endpoint
from shared.http.registry import RateLimit

if TYPE_CHECKING:
    from shared.schemas.health import Health

bp = func.Blueprint()


@endpoint(
    bp,
    name="health",
    route="v1/health",
    method="GET",
    summary="Liveness: the app is running",
    tags=["health"],
    rate_limit=RateLimit.NONE,
    response="health.Health",
)
def health(request: ApiRequest) -> Health:
    """Answers without touching any dependency, for the platform's liveness probe."""
    from shared.services.health import liveness

    return liveness()


@endpoint(
    bp,
    name="health_ready",
    route="v1/health/ready",
    method="GET",
    summary="Readiness: the database and storage answer",
    tags=["health"],
    rate_limit=RateLimit.NONE,
    response="health.Readiness",
    errors_=[503],
)
def health_ready(request: ApiRequest) -> ApiResponse:
    """200 when every configured dependency answers, 503 otherwise."""
    from shared.services.health import readiness

    report = readiness()
    return ApiResponse(status=200 if report.status == "ok" else 503, body=report)
