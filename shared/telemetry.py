"""Traces and correlated logs to Application Insights, only when it is configured.

With ``APPLICATIONINSIGHTS_CONNECTION_STRING`` set, the first span asked for configures
OpenTelemetry through azure-monitor-opentelemetry: a span per HTTP request (carrying
the request id), dependency spans for MongoDB (pymongo command events) and Blob Storage
(azure-core tracing), spans for the upload processor's steps, and log records carrying
the current trace. With it unset nothing is imported and every helper here is a no-op,
so neither cold start nor tests pay for it. ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING``
of ``Authorization=AAD`` (what the azd template sets) sends with the managed identity.

Imported by the HTTP pipeline at indexing time: this module must stay cheap to import.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    import azure.functions as func

CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
AUTHENTICATION_SETTING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
TRACER_NAME = "runtime_traitors"
# Libraries the app does not use: their instrumentation would only cost import time.
_UNUSED_INSTRUMENTATIONS = ("django", "fastapi", "flask", "psycopg2")

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_decided = False
_tracer: Any = None  # an opentelemetry Tracer once configured


def enabled() -> bool:
    """Whether telemetry is on; the first call decides (and configures) for the process."""
    if not _decided:
        configure()
    return _tracer is not None


def configure(
    *, span_processors: Sequence[Any] = (), log_record_processors: Sequence[Any] = ()
) -> bool:
    """Configure once from the environment; extra processors let tests see what is sent."""
    global _decided, _tracer
    with _lock:
        if _decided:
            return _tracer is not None
        connection = os.environ.get(CONNECTION_SETTING, "").strip()
        if connection:
            try:
                _tracer = _configure(connection, span_processors, log_record_processors)
            except Exception:  # telemetry must never take the app down with it
                logger.exception("telemetry disabled: Azure Monitor could not be configured")
        _decided = True
    return _tracer is not None


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A span around the block (the current span's child); yields None when telemetry is off."""
    if not enabled():
        yield None
        return
    with _tracer.start_as_current_span(name, attributes=_clean(attributes)) as current:
        yield current


def traced(
    name: str, describe: Callable[[Any], Mapping[str, Any]] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: run the function in a span; ``describe(result)`` adds attributes."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if not enabled():
                return function(*args, **kwargs)
            with span(name) as current:
                result = function(*args, **kwargs)
                if describe is not None:
                    current.set_attributes(_clean(describe(result)))
                return result

        return wrapper

    return decorate


def traced_request(
    method: str, route: str, call: Callable[[], func.HttpResponse]
) -> func.HttpResponse:
    """Run one HTTP invocation in a server span named after its route template."""
    if not enabled():
        return call()
    from opentelemetry.trace import SpanKind, Status, StatusCode

    attributes = {"http.request.method": method.upper(), "http.route": route}
    with _tracer.start_as_current_span(
        f"{method.upper()} {route}", kind=SpanKind.SERVER, attributes=attributes
    ) as current:
        response = call()
        current.set_attribute("http.response.status_code", response.status_code)
        # The id the response (and every log line of the request) carries.
        request_id = response.headers.get("X-Request-ID")
        if request_id:
            current.set_attribute("request_id", request_id)
        if response.status_code >= 500:
            current.set_status(Status(StatusCode.ERROR))
        return response


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """OpenTelemetry takes str, bool, int and float values only; None is left out."""
    return {
        key: value if isinstance(value, str | bool | int | float) else str(value)
        for key, value in attributes.items()
        if value is not None
    }


def _configure(
    connection: str, span_processors: Sequence[Any], log_record_processors: Sequence[Any]
) -> Any:
    from azure.monitor.opentelemetry import configure_azure_monitor
    from opentelemetry import trace
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    options: dict[str, dict[str, bool]] = {
        name: {"enabled": False} for name in _UNUSED_INSTRUMENTATIONS
    }
    options["azure_sdk"] = {"enabled": True}  # Blob Storage calls as dependency spans
    configure_azure_monitor(
        connection_string=connection,
        credential=_credential(),
        instrumentation_options=options,
        span_processors=list(span_processors),
        log_record_processors=list(log_record_processors),
        enable_live_metrics=False,
    )
    # Listeners apply to clients created afterwards: the app creates its one on first use.
    PymongoInstrumentor().instrument()
    return trace.get_tracer(TRACER_NAME)


def _credential() -> Any:
    """The managed identity when the component accepts Entra ID only; None for the key."""
    authentication = os.environ.get(AUTHENTICATION_SETTING, "")
    parts = dict(
        part.split("=", 1) for part in authentication.split(";") if "=" in part and part.strip()
    )
    if parts.get("Authorization", "").upper() != "AAD":
        return None
    from azure.identity import ManagedIdentityCredential

    client_id = parts.get("ClientId")
    return (
        ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    )
