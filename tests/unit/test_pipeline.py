"""The request pipeline, exercised through a throwaway blueprint of test routes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import azure.functions as func
import pytest
from pydantic import Field
from pymongo.errors import ServerSelectionTimeoutError

from shared.http import registry
from shared.http.api import HttpApi
from shared.http.pipeline import ApiRequest, ApiResponse
from shared.http.registry import RateLimit
from shared.schemas.base import QueryModel, RequestModel, ResponseModel
from tests.conftest import reload_settings

Invoke = Callable[..., func.HttpResponse]


class EchoBody(RequestModel):
    name: str = Field(min_length=1, max_length=50)
    count: int = 1


class EchoQuery(QueryModel):
    limit: int = Field(default=20, ge=1, le=100)


class Echo(ResponseModel):
    name: str
    count: int
    limit: int


@pytest.fixture
def invoke() -> Iterator[Invoke]:
    """Declare test routes, index them like the worker does, restore the registry after."""
    saved_ops = list(registry.OPERATIONS)
    api = HttpApi(tags=["t"])

    @api.post("t/echo", name="t_echo", summary="echo", status=201)
    def echo(request: ApiRequest, body: EchoBody, query: EchoQuery) -> Echo:
        return Echo(name=body.name, count=body.count, limit=query.limit)

    @api.get("t/echo", name="t_echo_read", summary="echo without input")
    def echo_read(request: ApiRequest) -> ApiResponse[Echo]:
        return ApiResponse(status=200, body=Echo(name=request.method, count=0, limit=0))

    @api.get("t/boom", name="t_boom", summary="boom")
    def boom(request: ApiRequest) -> None:
        raise RuntimeError("secret driver detail: mongodb://user:pw@host")

    @api.get("t/db-down", name="t_db_down", summary="db")
    def db_down(request: ApiRequest) -> None:
        raise ServerSelectionTimeoutError("no servers")

    @api.get("t/ip", name="t_ip", summary="ip", rate_limit=RateLimit.AUTH)
    def ip(request: ApiRequest) -> ApiResponse[dict[str, str]]:
        return ApiResponse(status=200, body={"ip": request.client_ip})

    app = func.FunctionApp()
    app.register_functions(api.blueprint())
    functions = {f.get_function_name(): f.get_user_function() for f in app.get_functions()}

    def call(
        name: str,
        method: str = "GET",
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> func.HttpResponse:
        req = func.HttpRequest(
            method,
            f"http://localhost/api/{name}",
            headers=headers or {},
            params=params or {},
            body=body,
        )
        response: func.HttpResponse = functions[name](req)  # named after the route
        return response

    yield call
    registry.OPERATIONS[:] = saved_ops


def problem(response: func.HttpResponse) -> dict[str, object]:
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, object] = json.loads(response.get_body())
    return body


JSON_HEADERS = {"Content-Type": "application/json"}


def test_valid_body_and_query_reach_the_handler(invoke: Invoke) -> None:
    response = invoke(
        "t_echo",
        "POST",
        body=b'{"name": "ada", "count": 3}',
        headers=JSON_HEADERS,
        params={"limit": "7"},
    )
    assert response.status_code == 201
    assert json.loads(response.get_body()) == {"name": "ada", "count": 3, "limit": 7}


def test_invalid_json_is_400_problem(invoke: Invoke) -> None:
    response = invoke("t_echo", "POST", body=b'{"name": ', headers=JSON_HEADERS)
    assert response.status_code == 400
    assert problem(response)["code"] == "invalid_json"


def test_wrong_content_type_is_415(invoke: Invoke) -> None:
    response = invoke("t_echo", "POST", body=b"name=ada", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert problem(response)["code"] == "unsupported_media_type"


def test_body_over_one_mebibyte_is_413(invoke: Invoke) -> None:
    big = b'{"name": "' + b"a" * (1024 * 1024) + b'"}'
    response = invoke("t_echo", "POST", body=big, headers=JSON_HEADERS)
    assert response.status_code == 413
    assert problem(response)["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"name": {"$ne": null}}', "name"),  # operator injection
        (b'{"name": "ada", "role": "admin"}', "role"),  # mass assignment
        (b'{"name": "ada", "count": "3"}', "count"),  # strings are not coerced
        (b'{"name": ""}', "name"),
    ],
)
def test_schema_mismatch_is_422_with_errors(invoke: Invoke, body: bytes, field: str) -> None:
    response = invoke("t_echo", "POST", body=body, headers=JSON_HEADERS)
    assert response.status_code == 422
    details = problem(response)
    assert details["code"] == "validation_error"
    locations = [e["loc"] for e in details["errors"]]  # type: ignore[attr-defined]
    assert ["body", field] in locations


def test_validation_errors_never_echo_the_input(invoke: Invoke) -> None:
    response = invoke(
        "t_echo", "POST", body=b'{"name": {"password": "hunter2hunter2"}}', headers=JSON_HEADERS
    )
    assert response.status_code == 422
    assert b"hunter2" not in response.get_body()


def test_unknown_or_operator_query_parameter_is_422(invoke: Invoke) -> None:
    response = invoke(
        "t_echo", "POST", body=b'{"name": "a"}', headers=JSON_HEADERS, params={"limit[$ne]": "x"}
    )
    assert response.status_code == 422
    assert problem(response)["errors"][0]["loc"] == ["query", "limit[$ne]"]  # type: ignore[index]


def test_out_of_range_query_is_422(invoke: Invoke) -> None:
    response = invoke(
        "t_echo", "POST", body=b'{"name": "a"}', headers=JSON_HEADERS, params={"limit": "1000"}
    )
    assert response.status_code == 422


def test_unexpected_exception_is_500_without_details(
    invoke: Invoke, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = invoke("t_boom")
    assert response.status_code == 500
    body = problem(response)
    assert body["code"] == "internal_error"
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert b"secret" not in response.get_body()
    assert b"Traceback" not in response.get_body()
    assert any(r.exc_info for r in caplog.records), "the traceback is logged for operators"


def test_database_outage_is_503_with_retry_after(invoke: Invoke) -> None:
    response = invoke("t_db_down")
    assert response.status_code == 503
    assert problem(response)["code"] == "service_unavailable"
    assert response.headers["Retry-After"].isdigit()


def test_every_response_carries_request_id_and_security_headers(invoke: Invoke) -> None:
    for response in (invoke("t_boom"), invoke("t_echo", "POST", body=b"{}", headers=JSON_HEADERS)):
        assert len(response.headers["X-Request-ID"]) >= 16
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        assert (
            response.headers["Content-Security-Policy"]
            == "default-src 'none'; frame-ancestors 'none'"
        )
        assert "Strict-Transport-Security" not in response.headers


def test_well_formed_incoming_request_id_is_kept_and_bad_one_replaced(invoke: Invoke) -> None:
    kept = invoke("t_boom", headers={"X-Request-ID": "trace-123"})
    assert kept.headers["X-Request-ID"] == "trace-123"
    replaced = invoke("t_boom", headers={"X-Request-ID": "bad\r\nSet-Cookie: x"})
    assert "\n" not in replaced.headers["X-Request-ID"]
    assert replaced.headers["X-Request-ID"] != "bad"


def test_hsts_only_over_https(invoke: Invoke) -> None:
    response = invoke("t_boom", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_production_refuses_plain_http(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    reload_settings(
        monkeypatch,
        ENVIRONMENT="production",
        SECRET_KEY="k" * 40 + "-jwt",
        DATA_ENCRYPTION_KEY="d" * 40 + "-data",
        DATABASE_URL="mongodb://127.0.0.1:1/",
    )
    response = invoke("t_boom", headers={"X-Forwarded-Proto": "http"})
    assert response.status_code == 403
    assert problem(response)["code"] == "https_required"
    assert "Strict-Transport-Security" in response.headers


def test_the_app_never_sends_the_platforms_cors_headers(invoke: Invoke) -> None:
    # The host's CORS middleware owns Allow-Origin and Vary; a second copy would break CORS.
    for origin in ("https://app.example", "https://evil.example", "null"):
        response = invoke("t_boom", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Vary" not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers
        assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]


def test_options_reaching_the_app_lists_the_routes_methods(invoke: Invoke) -> None:
    response = invoke("t_echo", "OPTIONS", headers={"Origin": "https://app.example"})
    assert response.status_code == 204
    assert response.headers["Allow"] == "POST, GET, OPTIONS"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.get_body() == b""


def test_one_function_serves_every_method_of_its_route(invoke: Invoke) -> None:
    read = invoke("t_echo", "GET")
    assert read.status_code == 200
    assert json.loads(read.get_body()) == {"name": "GET", "count": 0, "limit": 0}
    created = invoke("t_echo", "POST", body=b'{"name": "ada"}', headers=JSON_HEADERS)
    assert created.status_code == 201


def test_a_handler_without_a_body_parameter_still_refuses_oversized_bodies(
    invoke: Invoke,
) -> None:
    response = invoke("t_boom", "GET", body=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413


def test_rate_limit_answers_429_with_headers(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    reload_settings(monkeypatch, RATE_LIMIT_AUTH_PER_MINUTE="3")
    headers = {"X-Forwarded-For": "203.0.113.9"}
    statuses = [invoke("t_ip", headers=headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = invoke("t_ip", headers=headers)
    assert limited.status_code == 429
    assert problem(limited)["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["RateLimit-Limit"] == "3"
    assert limited.headers["RateLimit-Remaining"] == "0"
    assert "RateLimit-Reset" in limited.headers
    other_client = invoke("t_ip", headers={"X-Forwarded-For": "198.51.100.7"})
    assert other_client.status_code == 200


def test_spoofed_forwarded_for_entries_do_not_change_the_bucket(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    reload_settings(monkeypatch, RATE_LIMIT_AUTH_PER_MINUTE="2")
    for spoof in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
        response = invoke("t_ip", headers={"X-Forwarded-For": f"{spoof}, 203.0.113.9"})
        assert json.loads(response.get_body()).get("ip", "203.0.113.9") == "203.0.113.9"
    assert response.status_code == 429


def test_access_log_is_one_json_line_without_secrets(
    invoke: Invoke, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="runtime_traitors.access"):
        invoke(
            "t_echo",
            "POST",
            body=b'{"name": "topsecretvalue"}',
            headers={**JSON_HEADERS, "Authorization": "Bearer abc.def.ghi"},
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "runtime_traitors.access"]
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["method"] == "POST"
    assert entry["route"] == "t/echo"
    assert entry["status"] == 201
    assert entry["duration_ms"] >= 0
    assert entry["request_id"]
    assert "topsecretvalue" not in lines[0]
    assert "abc.def.ghi" not in lines[0]
