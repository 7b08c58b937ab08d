"""Health probes: liveness without dependencies, readiness with them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.http.api import HttpApi
from shared.http.pipeline import ApiRequest, ApiResponse
from shared.http.registry import RateLimit

if TYPE_CHECKING:
    from shared.schemas.health import Health, Readiness

api = HttpApi(tags=["health"])


@api.get(
    "v1/health",
    name="health",
    summary="Liveness: the app is running",
    rate_limit=RateLimit.NONE,
)
def health(request: ApiRequest) -> Health:
    """Answers without touching any dependency, for the platform's liveness probe."""
    from shared.services.health import liveness

    return liveness()


@api.get(
    "v1/health/ready",
    name="health_ready",
    summary="Readiness: the database and storage answer",
    rate_limit=RateLimit.NONE,
    errors=[503],
)
def health_ready(request: ApiRequest) -> ApiResponse[Readiness]:
    """200 when every configured dependency answers, 503 otherwise."""
    from shared.services.health import readiness

    report = readiness()
    return ApiResponse(status=200 if report.status == "ok" else 503, body=report)


bp = api.blueprint()
