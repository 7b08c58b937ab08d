"""Run in a child process by test_telemetry: telemetry on, spans and logs kept in memory.

OpenTelemetry's tracer provider is process-wide and set once, so the probe runs apart
from the rest of the suite. It drives the app in-process (an upload through the API,
PUT to Azurite, the processor) and prints what was recorded as JSON on stdout.
Usage: python -m tests.telemetry.probe <azurite connection string>
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import requests
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import telemetry


def main(connection_string: str) -> None:
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    assert telemetry.configure(
        span_processors=[SimpleSpanProcessor(spans)],
        log_record_processors=[SimpleLogRecordProcessor(logs)],
    )
    from shared.services.storage import provisioning, sas
    from shared.services.upload_processing import process_blob
    from tests import media_samples
    from tests.api.client import ApiClient

    provisioning.ensure_containers(connection_string=connection_string)
    client = ApiClient()
    password = "a telemetry passphrase of 2026"
    assert (
        client.post(
            "/api/v1/auth/register", json={"email": "otel@example.com", "password": password}
        ).status
        == 201
    )
    token = client.post(
        "/api/v1/auth/login", json={"email": "otel@example.com", "password": password}
    ).json["access_token"]
    with TemporaryDirectory() as workdir:
        data = media_samples.write_png(Path(workdir)).read_bytes()
    created = client.post(
        "/api/v1/uploads",
        json={"filename": "p.png", "content_type": "image/png", "size_bytes": len(data)},
        token=token,
        headers={"X-Request-ID": "probe-request-1"},
    )
    assert created.status == 201, created.body
    upload = created.json
    put = requests.put(
        upload["upload"]["url"], data=data, headers=upload["upload"]["headers"], timeout=10
    )
    assert put.status_code == 201, put.text
    logging.getLogger("probe").warning("processing %s", upload["id"])
    blob_name = sas.upload_blob_name(upload["owner_id"], upload["id"])
    with telemetry.span("probe.process"):
        logging.getLogger("probe").warning("inside the processor span")
        process_blob(blob_name)
    _against_a_wire_protocol_server(client)
    json.dump(
        {
            "spans": [_span(s) for s in spans.get_finished_spans()],
            "logs": [_log(r) for r in logs.get_finished_logs()],
        },
        sys.stdout,
    )


def _against_a_wire_protocol_server(client: Any) -> None:
    """The readiness probe on a pymongo client (mongomock sends no commands to trace)."""
    import os

    from shared.config import reset_settings
    from shared.db.client import reset_database_client
    from tests.telemetry.mongo_stub import running_mongo_stub

    with running_mongo_stub() as port:
        os.environ["DATABASE_URL"] = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        reset_settings()
        reset_database_client()
        ready = client.get("/api/v1/health/ready", headers={"X-Request-ID": "probe-ready"})
        assert ready.status == 200, ready.body
        reset_database_client()


def _span(span: Any) -> dict[str, Any]:
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
        "attributes": {key: str(value) for key, value in (span.attributes or {}).items()},
    }


def _log(data: Any) -> dict[str, Any]:
    record = data.log_record
    return {
        "body": str(record.body),
        "trace_id": format(record.trace_id or 0, "032x"),
        "span_id": format(record.span_id or 0, "016x"),
    }


if __name__ == "__main__":
    main(sys.argv[1])
