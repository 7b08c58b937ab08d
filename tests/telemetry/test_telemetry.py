"""Telemetry: spans and correlated logs when Application Insights is set, nothing when not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A well-formed connection string whose ingestion endpoint is a closed local port:
# the real exporters run, and nothing leaves the machine.
FAKE_CONNECTION = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
    "IngestionEndpoint=http://127.0.0.1:9/;LiveEndpoint=http://127.0.0.1:9/"
)


def run_python(code_or_module: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, *code_or_module],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def recorded(module_azurite: str) -> dict[str, Any]:
    """What the probe recorded: an upload through the API and the processor, telemetry on."""
    completed = run_python(
        ["-m", "tests.telemetry.probe", module_azurite],
        {
            "APPLICATIONINSIGHTS_CONNECTION_STRING": FAKE_CONNECTION,
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "",
            # Keep every trace: production's default rate limit would drop some here.
            "OTEL_TRACES_SAMPLER": "microsoft.fixed_percentage",
            "OTEL_TRACES_SAMPLER_ARG": "1.0",
            "AZURE_STORAGE_CONNECTION_STRING": module_azurite,
            "DATABASE_URL": os.environ.get("TEST_DATABASE_URL", "mongomock://"),
            "DATABASE_NAME": "rt_telemetry_probe",
            "ENVIRONMENT": "development",
            "BCRYPT_ROUNDS": "4",
            "RATE_LIMIT_ENABLED": "false",
            "CLAMD_URL": "",
            "UPLOADS_CONTAINER": "otel-uploads",
            "THUMBNAILS_CONTAINER": "otel-thumbnails",
            "QUARANTINE_CONTAINER": "otel-quarantine",
            "FILES_CONTAINER": "otel-files",
        },
    )
    assert completed.returncode == 0, completed.stderr[-5000:]
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def spans_named(recorded: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [span for span in recorded["spans"] if span["name"] == name]


@pytest.mark.azurite
def test_each_request_has_a_server_span_carrying_its_request_id(recorded: dict[str, Any]) -> None:
    (create,) = spans_named(recorded, "POST v1/uploads")
    assert create["kind"] == "SERVER"
    assert create["attributes"]["request_id"] == "probe-request-1"
    assert create["attributes"]["http.response.status_code"] == "201"
    assert create["attributes"]["http.route"] == "v1/uploads"
    assert spans_named(recorded, "POST v1/auth/login")


@pytest.mark.azurite
def test_blob_storage_calls_are_dependency_spans_in_the_processors_trace(
    recorded: dict[str, Any],
) -> None:
    (process,) = spans_named(recorded, "upload.process")
    same_trace = [span for span in recorded["spans"] if span["trace_id"] == process["trace_id"]]
    sdk_calls = {span["name"] for span in same_trace if span["name"].startswith("BlobClient.")}
    assert {"BlobClient.get_blob_properties", "BlobClient.download_blob"} <= sdk_calls
    http_calls = [span for span in same_trace if span["kind"] == "CLIENT"]
    assert http_calls, "no HTTP dependency span under the SDK calls"
    # Every call goes to this test's own containers (the processed file lands in files).
    own = ("/otel-uploads/", "/otel-thumbnails/", "/otel-files/")
    assert all(
        any(container in span["attributes"].get("url.full", "/otel-uploads/") for container in own)
        for span in http_calls
    )
    assert all(
        "sig=" not in span["attributes"].get("url.full", "")
        or "sig=REDACTED" in span["attributes"]["url.full"]
        for span in http_calls
    )


@pytest.mark.azurite
def test_the_processor_steps_are_spans_under_one_trace(recorded: dict[str, Any]) -> None:
    (process,) = spans_named(recorded, "upload.process")
    assert process["attributes"]["upload.result"] == "ready"
    assert process["attributes"]["blob.name"].endswith(process["attributes"]["upload.id"])
    for step in ("upload.claim", "upload.receive", "upload.publish_image"):
        (span,) = spans_named(recorded, step)
        assert span["trace_id"] == process["trace_id"], step


@pytest.mark.azurite
def test_logs_carry_the_trace_they_were_written_in(recorded: dict[str, Any]) -> None:
    (probe,) = spans_named(recorded, "probe.process")
    (inside,) = [log for log in recorded["logs"] if log["body"] == "inside the processor span"]
    assert (inside["trace_id"], inside["span_id"]) == (probe["trace_id"], probe["span_id"])


@pytest.mark.azurite
def test_mongodb_commands_are_dependency_spans_of_their_request(recorded: dict[str, Any]) -> None:
    (ready,) = spans_named(recorded, "GET v1/health/ready")
    assert ready["attributes"]["request_id"] == "probe-ready"
    commands = [
        span
        for span in recorded["spans"]
        if span["trace_id"] == ready["trace_id"]
        and span["attributes"].get("db.system") == "mongodb"
    ]
    assert commands, "no MongoDB dependency span"
    ping = next(
        span for span in commands if span["attributes"].get("db.statement", "").startswith("ping")
    )
    assert ping["kind"] == "CLIENT"
    assert ping["attributes"]["net.peer.name"] == "127.0.0.1"


def test_nothing_is_loaded_when_application_insights_is_not_set() -> None:
    code = (
        "import sys; from shared import telemetry; import function_app; "
        "from tests.api.client import ApiClient; "
        "assert ApiClient().get('/api/v1/health').status == 200; "
        "assert not telemetry.enabled(); "
        "loaded = [m for m in sys.modules if m.startswith(('opentelemetry', 'azure.monitor'))]; "
        "print(loaded)"
    )
    completed = run_python(
        ["-c", code],
        {"APPLICATIONINSIGHTS_CONNECTION_STRING": "", "DATABASE_URL": "mongomock://"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip() == "[]"
