"""The OpenAPI 3.1 document, built from the operation registry and the pydantic models."""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.http.registry import OPERATIONS, Operation, RateLimit
from shared.schemas.base import Problem

REF = "#/components/schemas/{model}"
TITLE = "Runtime Traitors API"

_ERROR_TEXT = {
    400: "Malformed request (invalid JSON or a bad value)",
    401: "Missing, malformed, expired, revoked or forged access token",
    403: "The caller's role does not allow this",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request body over 1 MiB",
    415: "Body is not application/json",
    422: "The request does not match the schema",
    429: "Rate limit exceeded; see Retry-After",
    500: "Unexpected error; quote the request_id",
    503: "A backing service is unavailable; retry later",
}


def _models() -> list[tuple[type[BaseModel], Literal["validation", "serialization"]]]:
    found: dict[type[BaseModel], Literal["validation", "serialization"]] = {
        Problem: "serialization"
    }
    for op in _documented():
        for model in (op.body, op.query):
            if model is not None:
                found[model] = "validation"
        if op.response is not None:
            found[op.response] = "serialization"
    return list(found.items())


def _documented() -> list[Operation]:
    return [op for op in OPERATIONS if op.documented]


def _error_statuses(op: Operation) -> list[int]:
    statuses = set(op.errors) | {500}
    if op.body is not None:
        statuses |= {400, 413, 415, 422}
    if op.query is not None:
        statuses.add(422)
    if op.min_role is not None:
        statuses |= {401, 403, 429, 503}
    elif op.rate_limit is not RateLimit.NONE:
        statuses |= {429, 503}
    return sorted(statuses)


def _operation(op: Operation, keys: dict[Any, Any], defs: dict[str, Any]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = []
    for name, pattern in op.path_parameters.items():
        schema: dict[str, Any] = {"type": "string"}
        if pattern:
            schema["pattern"] = pattern
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    if op.query is not None:
        query_schema = defs[op.query.__name__]
        required = set(query_schema.get("required", []))
        for name, prop in query_schema.get("properties", {}).items():
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": prop,
                    **({"description": prop["description"]} if "description" in prop else {}),
                }
            )
    success: dict[str, Any] = {"description": op.summary}
    if op.response is not None:
        success["content"] = {op.content_type: {"schema": keys[(op.response, "serialization")]}}
    elif op.content_type != "application/json":
        success["content"] = {op.content_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(op.status): success}
    for status in _error_statuses(op):
        responses[str(status)] = {
            "description": _ERROR_TEXT.get(status, "Error"),
            "content": {
                "application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}
            },
        }
    document: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.summary,
        "tags": list(op.tags),
        "responses": responses,
    }
    if op.description:
        document["description"] = op.description
    if parameters:
        document["parameters"] = parameters
    if op.body is not None:
        document["requestBody"] = {
            "required": not op.body_optional,
            "content": {"application/json": {"schema": keys[(op.body, "validation")]}},
        }
    if op.min_role is not None:
        document["security"] = [{"bearerAuth": []}]
        document["x-required-role"] = op.min_role.value
    return document


@functools.cache
def openapi_document(version: str) -> dict[str, Any]:
    """Build the document once per process (the registry is fixed after indexing)."""
    keys, schema = models_json_schema(_models(), ref_template=REF)
    defs: dict[str, Any] = schema.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for op in sorted(_documented(), key=lambda o: (o.path, o.method)):
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, keys, defs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": version,
            "description": "Accounts, roles, sessions, direct-to-storage uploads and "
            "administration. Errors are RFC 9457 problem details.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
