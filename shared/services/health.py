"""Liveness and readiness: what the platform's probes and operators ask."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from shared import PROCESS_STARTED
from shared.config import get_settings
from shared.db.client import ping_database
from shared.schemas.health import DependencyCheck, Health, Readiness, ReadinessChecks

logger = logging.getLogger(__name__)


def liveness() -> Health:
    """The process is up; no dependency is touched."""
    settings = get_settings()
    return Health(
        status="ok",
        version=settings.APP_VERSION,
        environment=settings.ENVIRONMENT.value,
        uptime_seconds=round(time.monotonic() - PROCESS_STARTED, 3),
    )


def _check(name: str, probe: Callable[[], None]) -> DependencyCheck:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # a failing dependency is an answer here, not an error
        logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
        return DependencyCheck(status="fail", latency_ms=_ms_since(started))
    return DependencyCheck(status="ok", latency_ms=_ms_since(started))


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _ping_storage() -> None:
    from shared.services.storage import clients

    clients.ping()


def readiness() -> Readiness:
    """Whether the database and blob storage answer now."""
    from shared.services.storage.clients import storage_configured

    database = _check("database", ping_database)
    blob = (
        _check("storage", _ping_storage)
        if storage_configured()
        else DependencyCheck(status="skipped")
    )
    healthy = all(c.status != "fail" for c in (database, blob))
    return Readiness(
        status="ok" if healthy else "fail",
        checks=ReadinessChecks(database=database, storage=blob),
    )
