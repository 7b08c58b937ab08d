"""The OpenAPI document says what the app does, in the forms client generators read literally."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest
from azure.functions.http import HttpResponseConverter

from shared.http.docs import request_origin
from shared.http.openapi import ROUTE_ERRORS, openapi_document
from shared.http.registry import OPERATIONS
from tests.api.client import ApiClient, assert_problem


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    import function_app  # noqa: F401 - registers every operation

    return openapi_document("1.0.0")


def request_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each component schema used as a request body, by name."""
    names = {
        body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        for item in document["paths"].values()
        for operation in item.values()
        if (body := operation.get("requestBody"))
    }
    return {name: document["components"]["schemas"][name] for name in names}


def test_optional_request_fields_are_just_not_required(document: dict[str, Any]) -> None:
    schemas = request_schemas(document)
    for name, schema in schemas.items():
        for field, prop in schema["properties"].items():
            assert "default" not in prop, f"{name}.{field}"
    assert schemas["LoginRequest"]["required"] == ["email", "password"]
    assert schemas["LoginRequest"]["properties"]["otp"]["type"] == "string"
    assert schemas["UserRegister"]["properties"]["full_name"]["type"] == "string"
    assert "required" not in schemas["UserUpdateMe"]
    # In an edit a null name means "remove it", so only there is null offered.
    nullable = {"type": "null"} in schemas["UserUpdateMe"]["properties"]["full_name"]["anyOf"]
    assert nullable
    assert 'Default: "user"' in schemas["UserCreate"]["properties"]["role"]["description"]


def test_query_parameters_offer_no_null(document: dict[str, Any]) -> None:
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                assert "anyOf" not in parameter["schema"], parameter
                assert parameter["schema"].get("default", 0) is not None, parameter


def test_problem_errors_are_optional_and_never_null(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert "errors" not in problem["required"]
    assert problem["properties"]["errors"]["type"] == "array"
    assert "default" not in problem["properties"]["errors"]


def test_problem_bodies_match_the_schema(client: ApiClient) -> None:
    unauthorized = assert_problem(client.get("/api/v1/users/me"), 401, "unauthorized")
    assert "errors" not in unauthorized
    invalid = client.post("/api/v1/auth/login", json={"email": "a@example.com"})
    body = assert_problem(invalid, 422, "validation_error")
    assert body["errors"] == [
        {"loc": ["body", "password"], "msg": "Field required", "type": "missing"}
    ]


def test_response_fields_the_server_always_sends_are_required(document: dict[str, Any]) -> None:
    upload = document["components"]["schemas"]["Upload"]
    # `upload` is the one field left out when there is no URL to give (not pending, not
    # the owner): it must not be required, or generated clients would expect it always.
    assert set(upload["required"]) == set(upload["properties"]) - {"upload"}


def test_media_type_keys_carry_no_parameters(document: dict[str, Any]) -> None:
    for item in document["paths"].values():
        for operation in item.values():
            for answer in operation["responses"].values():
                for media_type in answer.get("content", {}):
                    assert ";" not in media_type, operation["operationId"]
    assert "text/html" in document["paths"]["/api/docs"]["get"]["responses"]["200"]["content"]


def test_no_content_answers_declare_no_content(document: dict[str, Any]) -> None:
    for op in OPERATIONS:
        if op.documented and op.status == 204:
            answer = document["paths"][op.path][op.method.lower()]["responses"]["204"]
            assert "content" not in answer, op.name


def test_a_204_reaches_the_host_without_a_content_type(client: ApiClient) -> None:
    """The worker would add text/plain; an empty type is what the host then drops."""
    preflight = client.request(
        "OPTIONS",
        "/api/v1/auth/logout",
        headers={"Origin": "http://allowed.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 204
    assert preflight.content_type == ""
    encoded = HttpResponseConverter.encode(
        func.HttpResponse(status_code=204, headers={"Content-Type": ""}), expected_type=None
    )
    assert encoded.value["headers"]["Content-Type"].value == ""


def test_each_route_describes_its_own_errors(document: dict[str, Any]) -> None:
    for op in OPERATIONS:
        if not op.documented:
            continue
        own = ROUTE_ERRORS.get((op.method, op.path), {})
        assert set(op.errors) <= set(own), f"{op.name}: describe its own {sorted(op.errors)}"
    refresh_401 = document["paths"]["/api/v1/auth/refresh"]["post"]["responses"]["401"]
    assert "access token" not in refresh_401["description"]
    assert "token_reused" in refresh_401["description"]
    me_401 = document["paths"]["/api/v1/users/me"]["get"]["responses"]["401"]
    assert "access token" in me_401["description"]


def test_without_a_request_the_server_is_a_template(document: dict[str, Any]) -> None:
    (server,) = document["servers"]
    assert server["url"] == "{scheme}://{host}"
    assert server["variables"]["host"]["default"] == "127.0.0.1:7071"


@pytest.mark.parametrize(
    ("headers", "production", "origin"),
    [
        ({"host": "127.0.0.1:7071", "x-forwarded-proto": "http"}, False, "http://127.0.0.1:7071"),
        (
            {"host": "app.azurewebsites.net", "x-forwarded-proto": "https"},
            False,
            "https://app.azurewebsites.net",
        ),
        ({"host": "app.azurewebsites.net"}, True, "https://app.azurewebsites.net"),
        (
            {"host": "internal", "x-forwarded-host": "api.example.com, proxy"},
            True,
            "https://api.example.com",
        ),
        ({"host": "[::1]:7071"}, False, "http://[::1]:7071"),
        ({"host": "evil.example/<script>"}, False, None),
        ({"host": "a b"}, False, None),
        ({}, False, None),
    ],
)
def test_request_origin(headers: dict[str, str], production: bool, origin: str | None) -> None:
    assert request_origin(headers, production=production) == origin


def test_served_document_names_where_it_was_fetched_from(client: ApiClient) -> None:
    served = client.get("/api/v1/openapi.json", headers={"Host": "api.example.com"}).json
    assert served["servers"] == [
        {"url": "http://api.example.com", "description": "This deployment"}
    ]
