"""Health and readiness responses."""

from __future__ import annotations

from typing import Literal

from shared.schemas.base import ResponseModel


class Health(ResponseModel):
    status: Literal["ok"]
    version: str
    environment: str
    uptime_seconds: float


class DependencyCheck(ResponseModel):
    status: Literal["ok", "fail", "skipped"]
    latency_ms: float | None = None


class ReadinessChecks(ResponseModel):
    database: DependencyCheck
    storage: DependencyCheck


class Readiness(ResponseModel):
    status: Literal["ok", "fail"]
    checks: ReadinessChecks
