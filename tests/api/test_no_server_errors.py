"""Property: no input makes any operation answer 5xx; every refusal is problem+json.

The operations, their parameters and their bodies come from the served OpenAPI document,
so a new route is covered the day it is added. Values are drawn from each schema and from
its hostile neighbours: extreme dates and offsets, huge numbers, empty and very long
strings, unusual Unicode, query operators and wrong types. Fixed seed (derandomize), a
bounded number of examples per operation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.repositories import users
from shared.services import sessions
from shared.services.storage import provisioning
from tests.api.client import ApiClient, Response
from tests.api.conftest import Account, MakeAccount
from tests.api.uploads_support import start_upload, use_storage

OPENAPI = "/api/v1/openapi.json"
EXAMPLES_PER_OPERATION = 40
PROBLEM_JSON = "application/problem+json"

EXTREME_TIMES = [
    "9999-12-31T23:59:59.999999-23:59",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59.999999+00:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31",
    "0001-01-01",
    "1970-01-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "2024-01-01T24:00:00Z",
    "+10000-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z",
    "2024-01-01T00:00:00+99:99",
    "99999999999999999999",
    "-99999999999999999999",
    "1e308",
]
HUGE_NUMBERS: list[Any] = [
    0,
    -1,
    2**31,
    2**53,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63) - 1,
    10**100,
    1e308,
    -1e308,
    0.5,
]
ODD_STRINGS = [
    "",
    " ",
    "a" * 10_000,
    "\x00",
    "\u202e",
    "\ud7ff\ue000",
    "\U0001f4a9" * 50,
    "ü",
    "x@bücher-qa.com",
    "$ne",
    '{"$gt": ""}',
    "../../etc/passwd",
    "null",
    "true",
    "NaN",
    "-Infinity",
    "0" * 24,
    "g" * 24,
    "%00",
    "%",
]
WRONG_TYPES: list[Any] = [None, True, False, [], {}, {"$ne": None}, [1, "a"], 1.5]


def hostile_values() -> st.SearchStrategy[Any]:
    """The neighbours of any field: wrong types, extremes, odd text."""
    return st.sampled_from(EXTREME_TIMES + HUGE_NUMBERS + ODD_STRINGS + WRONG_TYPES) | st.text(
        max_size=40
    )


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


class SchemaStrategies:
    """Hypothesis strategies for the JSON Schema subset pydantic writes into the document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.components: dict[str, Any] = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def valid(self, schema: dict[str, Any]) -> st.SearchStrategy[Any]:  # noqa: PLR0911 - one branch per JSON Schema keyword
        schema = self.resolve(schema)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return st.one_of([self.valid(option) for option in schema[key]])
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        kind = schema.get("type")
        if kind == "string":
            return self._string(schema)
        if kind == "integer":
            return st.integers(schema.get("minimum"), schema.get("maximum"))
        if kind == "number":
            return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False)
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        if kind == "array":
            return st.lists(self.field(schema.get("items", {})), max_size=3)
        if kind == "object" or "properties" in schema:
            return self.object(schema)
        return hostile_values()

    def field(self, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
        """A value for one field: mostly from its schema, often a hostile neighbour."""
        return self.valid(schema) | hostile_values()

    def object(self, schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {name: self.field(sub) for name, sub in properties.items() if name in required},
            optional={
                **{
                    name: self.field(sub)
                    for name, sub in properties.items()
                    if name not in required
                },
                "unexpected_field": hostile_values(),
            },
        )

    def _string(self, schema: dict[str, Any]) -> st.SearchStrategy[str]:
        if schema.get("format") == "date-time":
            return st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()) | (
                st.sampled_from(EXTREME_TIMES)
            )
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        if schema.get("format") == "email":
            return st.emails()
        return st.text(
            min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 64), 300)
        )


# Plausible values by field name, so a sweep reaches the one field it is changing.
PLAUSIBLE: dict[str, Any] = {
    "email": "sweep@example.com",
    "password": "correct horse battery staple 42",
    "current_password": "correct horse battery staple 42",
    "new_password": "plum orchard telescope 1987 quietly",
    "otp": "123456",
    "token": "t" * 43,
    "refresh_token": "r" * 43,
    "filename": "picture.png",
    "content_type": "image/png",
    "size_bytes": 100,
}


def plausible(name: str, schema: dict[str, Any], schemas: SchemaStrategies) -> Any:  # noqa: PLR0911
    """One valid-looking value for a field, so the neighbours of another field get through."""
    if name in PLAUSIBLE:
        return PLAUSIBLE[name]
    schema = schemas.resolve(schema)
    options = [o for o in schema.get("anyOf", []) if schemas.resolve(o).get("type") != "null"]
    if options:
        return plausible(name, options[0], schemas)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time":
        return "2024-01-01T00:00:00Z"
    if "pattern" in schema:
        return "0" * 24
    return "x" * max(1, schema.get("minLength", 1))


def neighbours(schema: dict[str, Any], schemas: SchemaStrategies) -> list[Any]:
    """The hostile values worth sending to a field of this schema, most telling first."""
    text = json.dumps(schemas.resolve(schema))
    if "date-time" in text:
        return EXTREME_TIMES + WRONG_TYPES + ["", "a" * 10_000]
    if '"integer"' in text or '"number"' in text:
        return HUGE_NUMBERS + WRONG_TYPES + ["", "1" * 400]
    return ODD_STRINGS + WRONG_TYPES + HUGE_NUMBERS[:8]


def as_query_text(value: Any) -> str:
    """How a drawn value travels in a query string."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value
    return json.dumps(value)


def operations_of(document: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method.upper(), path, spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


@dataclass
class Request:
    url: str
    body: bytes | None
    signed_in: bool


def request_strategy(
    operation: Operation, schemas: SchemaStrategies, known_ids: list[str]
) -> st.SearchStrategy[Request]:
    parameters: list[dict[str, Any]] = operation.spec.get("parameters", [])
    path_values = {
        p["name"]: st.sampled_from(known_ids) | schemas.valid(p["schema"]) | hostile_values()
        for p in parameters
        if p["in"] == "path"
    }
    query_values = {p["name"]: schemas.field(p["schema"]) for p in parameters if p["in"] == "query"}
    content = operation.spec.get("requestBody", {}).get("content", {})
    body_schema = content.get("application/json", {}).get("schema")
    body = (
        st.none()
        if body_schema is None
        else schemas.valid(body_schema) | hostile_values() | st.just(Ellipsis)
    )
    secured = bool(operation.spec.get("security"))

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        path = operation.path
        for name, strategy in path_values.items():
            path = path.replace(f"{{{name}}}", quote(as_query_text(draw(strategy)), safe=""))
        query = draw(st.fixed_dictionaries({}, optional=query_values))
        if draw(st.booleans()) and query_values:
            query["unknown_filter"] = draw(hostile_values())
        url = path + (
            "?" + urlencode({k: as_query_text(v) for k, v in query.items()}) if query else ""
        )
        drawn = draw(body)
        if drawn is Ellipsis:  # not JSON at all
            raw: bytes | None = draw(st.sampled_from([b"{", b"\xff\xfe", b"[]" * 10, b"\x00"]))
        else:
            raw = None if drawn is None and body_schema is None else json.dumps(drawn).encode()
        return Request(url, raw, secured and draw(st.integers(0, 9)) > 0)

    return build()


def assert_handled(operation: Operation, request: Request, response: Response) -> None:
    sent = request.body[:200] if request.body else None
    where = f"{operation.name} {request.url[:200]!r} body={sent!r}"
    assert response.status < 500, f"{where} -> {response.status} {response.body[:300]!r}"
    if response.status == 404 and not response.body and not response.headers:
        return  # no route matched (a path id outside its pattern): the host's own empty 404
    if response.status >= 400:
        assert response.content_type == PROBLEM_JSON, where
        problem = response.json
        assert problem["status"] == response.status, where
        assert problem["code"], where


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch, azurite: str, make_account: MakeAccount
) -> tuple[Account, list[str]]:
    """Storage on Azurite, no rate limits, an admin, a user and an upload whose ids are known."""
    use_storage(monkeypatch, azurite, RATE_LIMIT_ENABLED="false")
    provisioning.ensure_containers()  # so readiness is 200, not a 503 for a missing container
    admin = make_account("admin")
    user = make_account("user")
    upload = start_upload(ApiClient(), user)
    return admin, [admin.id, user.id, upload["id"]]


def test_no_operation_answers_5xx_to_any_input(
    client: ApiClient, world: tuple[Account, list[str]]
) -> None:
    admin = AdminTokens(world[0])
    document = client.get(OPENAPI).json
    schemas = SchemaStrategies(document)
    operations = operations_of(document)
    assert len(operations) >= 25, "every route of the API is in the document"
    for operation in operations:
        run_examples(operation, request_strategy(operation, schemas, world[1]), client, admin)


def run_examples(
    operation: Operation,
    requests: st.SearchStrategy[Request],
    client: ApiClient,
    admin: AdminTokens,
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests)
    def examples(request: Request) -> None:
        _send(client, operation, request, admin)

    examples()


def test_every_field_survives_its_hostile_neighbours(
    client: ApiClient, world: tuple[Account, list[str]]
) -> None:
    """A sweep beside the random search: each field gets every neighbour, the rest stay valid."""
    admin = AdminTokens(world[0])
    document = client.get(OPENAPI).json
    schemas = SchemaStrategies(document)
    for operation in operations_of(document):
        parameters = operation.spec.get("parameters", [])
        path = operation.path
        for p in parameters:
            if p["in"] == "path":
                path = path.replace(f"{{{p['name']}}}", "0" * 24)
        query_fields = {p["name"]: p["schema"] for p in parameters if p["in"] == "query"}
        content = operation.spec.get("requestBody", {}).get("content", {})
        body_schema = schemas.resolve(content.get("application/json", {}).get("schema", {}))
        body_fields: dict[str, Any] = body_schema.get("properties", {})
        required = set(body_schema.get("required", []))
        base_body = {
            name: plausible(name, sub, schemas)
            for name, sub in body_fields.items()
            if name in required
        }
        for name, sub in query_fields.items():
            for value in neighbours(sub, schemas):
                url = f"{path}?{urlencode({name: as_query_text(value)})}"
                _send(client, operation, Request(url, None, True), admin)
        for name, sub in body_fields.items():
            for value in neighbours(sub, schemas):
                body = json.dumps({**base_body, name: value}).encode()
                _send(client, operation, Request(path, body, True), admin)


def _send(client: ApiClient, operation: Operation, request: Request, admin: AdminTokens) -> None:
    headers = {"Content-Type": "application/json"} if request.body is not None else {}
    response = client.request(
        operation.method,
        request.url,
        body=request.body,
        token=admin.token() if request.signed_in else None,
        headers=headers,
    )
    if response.status == 401 and request.signed_in:
        admin.expire()  # the call itself may have ended the session (logout, log-out-everywhere)
    assert_handled(operation, request, response)


class AdminTokens:
    """An access token of the admin, minted again once a drawn call has ended its session."""

    def __init__(self, admin: Account) -> None:
        doc = users.find_by_id(admin.id)
        assert doc is not None
        self._doc = doc
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            self._token = sessions.start_session(self._doc).access_token
        return self._token

    def expire(self) -> None:
        self._token = None
