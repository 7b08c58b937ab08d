"""Health probes and the API documentation."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from scripts.generate_api_reference import OUTPUT, current_text
from shared.http.registry import OPERATIONS
from shared.identity import Role
from tests.api.client import ApiClient
from tests.conftest import reload_settings


def test_health_answers_without_touching_the_database(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reload_settings(monkeypatch, DATABASE_URL="mongodb://127.0.0.1:9/", DATABASE_TIMEOUT_MS="200")
    response = client.get("/api/v1/health")
    assert response.status == 200
    body = response.json
    assert body["status"] == "ok"
    assert body["environment"] == "development"
    assert body["version"]
    assert body["uptime_seconds"] >= 0


def test_ready_reports_each_dependency(client: ApiClient) -> None:
    response = client.get("/api/v1/health/ready")
    assert response.status == 200
    checks = response.json["checks"]
    assert response.json["status"] == "ok"
    assert checks["database"]["status"] == "ok"
    assert checks["database"]["latency_ms"] >= 0
    assert checks["storage"] == {"status": "skipped", "latency_ms": None}


def test_ready_is_503_quickly_when_the_database_is_down(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reload_settings(monkeypatch, DATABASE_URL="mongodb://127.0.0.1:9/", DATABASE_TIMEOUT_MS="300")
    response = client.get("/api/v1/health/ready")
    assert response.status == 503
    assert response.json["status"] == "fail"
    assert response.json["checks"]["database"]["status"] == "fail"


def test_database_outage_on_a_normal_route_is_503_problem(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reload_settings(monkeypatch, DATABASE_URL="mongodb://127.0.0.1:9/", DATABASE_TIMEOUT_MS="300")
    response = client.post(
        "/api/v1/auth/login", json={"email": "a@example.com", "password": "whatever at all"}
    )
    assert response.status == 503
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == "service_unavailable"
    assert "Retry-After".lower() in response.headers


def test_openapi_document_is_valid_and_lists_every_route(client: ApiClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status == 200
    document = response.json
    validate(document)
    assert document["openapi"].startswith("3.1")
    listed = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    for op in OPERATIONS:
        assert ((op.path, op.method) in listed) is op.documented, op.name


def test_openapi_has_request_and_response_schemas(client: ApiClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    for op in (op for op in OPERATIONS if op.documented):
        entry = document["paths"][op.path][op.method.lower()]
        if op.body is not None:
            assert entry["requestBody"]["content"]["application/json"]["schema"], op.name
        if op.response is not None:
            success = entry["responses"][str(op.status)]
            assert success["content"], op.name
        if op.min_role is not None:
            assert entry["security"] == [{"bearerAuth": []}]
            assert "401" in entry["responses"]
            # Every signed-in caller is at least a guest: the role guard cannot refuse one.
            assert ("403" in entry["responses"]) is (
                op.min_role is not Role.GUEST or 403 in op.errors
            )


def test_docs_page_loads_pinned_swagger_ui_with_integrity(client: ApiClient) -> None:
    response = client.get("/api/docs")
    assert response.status == 200
    assert response.content_type.startswith("text/html")
    page = response.body.decode()
    assert "/api/v1/openapi.json" in page
    assert page.count('integrity="sha384-') == 2
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp


def test_committed_api_reference_is_current() -> None:
    assert OUTPUT.read_text(encoding="utf-8") == current_text(), (
        "docs/api-reference.md is stale: run `make docs`"
    )
