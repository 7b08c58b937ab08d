"""The OpenAPI 3.1 document, built from the operation registry and the pydantic models."""

from __future__ import annotations

import functools
from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.http.registry import OPERATIONS, Operation, RateLimit
from shared.identity import Role
from shared.schemas.base import Problem

REF = "#/components/schemas/{model}"
TITLE = "Runtime Traitors API"

# Why the pipeline itself may refuse a request, by what the operation takes.
_BODY_ERRORS = {
    400: "invalid_json: the body is not valid JSON",
    413: "payload_too_large: the body is over 1 MiB",
    415: "unsupported_media_type: the body is not application/json (UTF-8)",
    422: "validation_error: the body does not match the schema (see `errors`)",
}
_QUERY_ERRORS = {422: "validation_error: a query parameter is not valid (see `errors`)"}
_SIGNED_IN_ERRORS = {
    401: "unauthorized or invalid_token: the bearer access token is missing, malformed, "
    "expired, revoked or forged",
    429: "rate_limited: too many requests from this user (without a valid token: from "
    "this address); see Retry-After",
    503: "service_unavailable: the database is unreachable; retry after Retry-After",
}
_ANONYMOUS_ERRORS = {
    429: "rate_limited: too many requests from this address; see Retry-After",
    503: "service_unavailable: the database is unreachable; retry after Retry-After",
}
# Error statuses answered with the operation's own response model, not a problem.
_REPORTS = {("GET", "/api/v1/health/ready", 503)}
_INTERNAL_ERROR = "internal_error: an unexpected failure; quote the request_id"
_NOT_FOUND_USER = "not_found: no user with this id"
_NOT_FOUND_UPLOAD = "not_found: no upload with this id that the caller may see"
_STORAGE_DOWN = "service_unavailable: file storage is unreachable; retry after Retry-After"

# What each route's own errors mean (the statuses its blueprint declares), by method and
# path: the contract, so it survives a rename of the function behind it.
ROUTE_ERRORS: dict[tuple[str, str], dict[int, str]] = {
    ("GET", "/api/v1/health/ready"): {503: "A dependency failed: the same report, status fail"},
    ("POST", "/api/v1/auth/register"): {
        403: "registration_closed: self-registration is turned off",
        409: "email_taken: an account with this email exists",
    },
    ("POST", "/api/v1/auth/login"): {
        401: "invalid_credentials (unknown email or wrong password, indistinguishable), "
        "mfa_required (send otp) or mfa_invalid",
        429: "login_locked: too many failed sign-ins for this email; see Retry-After",
    },
    ("POST", "/api/v1/auth/refresh"): {
        401: "invalid_token: the refresh token is unknown, expired or revoked; "
        "token_reused: it was used before, so its whole family is now revoked",
    },
    ("POST", "/api/v1/auth/password/reset"): {
        400: "invalid_token: the reset token is used, expired or unknown",
    },
    ("POST", "/api/v1/auth/mfa/setup"): {409: "mfa_already_enabled"},
    ("POST", "/api/v1/auth/mfa/enable"): {
        400: "mfa_not_set_up (start with /api/v1/auth/mfa/setup) or mfa_invalid",
        409: "mfa_already_enabled",
    },
    ("POST", "/api/v1/auth/mfa/disable"): {400: "mfa_not_enabled, invalid_password or mfa_invalid"},
    ("POST", "/api/v1/users/me/password"): {
        400: "invalid_password: current_password is not correct",
    },
    ("DELETE", "/api/v1/users/me"): {
        400: "invalid_password: the password is not correct",
        409: "last_admin: the last active admin cannot close their account",
    },
    ("POST", "/api/v1/users"): {409: "email_taken: an account with this email exists"},
    ("GET", "/api/v1/users/{user_id}"): {404: _NOT_FOUND_USER},
    ("PATCH", "/api/v1/users/{user_id}"): {
        404: _NOT_FOUND_USER,
        409: "last_admin: the last active admin cannot be demoted or deactivated",
    },
    ("DELETE", "/api/v1/users/{user_id}"): {
        404: _NOT_FOUND_USER,
        409: "last_admin: the last active admin cannot be deleted",
    },
    ("POST", "/api/v1/admin/users/{user_id}/revoke-sessions"): {404: _NOT_FOUND_USER},
    ("POST", "/api/v1/admin/users/{user_id}/unlock"): {404: _NOT_FOUND_USER},
    ("POST", "/api/v1/uploads"): {
        422: "unsupported_type, extension_mismatch, file_too_large or quota_exceeded",
        503: _STORAGE_DOWN,
    },
    ("GET", "/api/v1/uploads"): {403: "forbidden: owner_id or all=true from a non-admin"},
    ("GET", "/api/v1/uploads/{upload_id}"): {404: _NOT_FOUND_UPLOAD, 503: _STORAGE_DOWN},
    ("DELETE", "/api/v1/uploads/{upload_id}"): {404: _NOT_FOUND_UPLOAD, 503: _STORAGE_DOWN},
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


def _error_causes(op: Operation) -> dict[int, list[str]]:
    """Each status the operation may answer with, and why: the pipeline's reasons first."""
    causes: dict[int, list[str]] = {500: [_INTERNAL_ERROR]}
    sources: list[dict[int, str]] = []
    if op.body is not None:
        sources.append(_BODY_ERRORS)
    if op.query is not None:
        sources.append(_QUERY_ERRORS)
    if op.min_role is not None:
        sources.append(_SIGNED_IN_ERRORS)
        if op.min_role is not Role.GUEST:  # every signed-in caller is at least a guest
            sources.append({403: f"forbidden: the caller's role is below {op.min_role.value}"})
    elif op.rate_limit is not RateLimit.NONE:
        sources.append(_ANONYMOUS_ERRORS)
    # The route's own reasons: for the statuses it declares, and for pipeline statuses
    # that it can also answer for reasons of its own (login_locked is a 429 too).
    own = ROUTE_ERRORS.get((op.method, op.path), {})
    sources.append({status: HTTPStatus(status).phrase for status in op.errors if status not in own})
    sources.append(own)
    for source in sources:
        for status, text in source.items():
            if text not in causes.setdefault(status, []):
                causes[status].append(text)
    return dict(sorted(causes.items()))


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: a query string cannot carry a null, so none is offered."""
    if schema.get("default", ...) is None:
        schema = {key: value for key, value in schema.items() if key != "default"}
    branches = [b for b in schema.get("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1 and len(schema["anyOf"]) == 2:
        rest = {key: value for key, value in schema.items() if key != "anyOf"}
        return {**branches[0], **rest}
    return schema


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
        for name, query_prop in query_schema.get("properties", {}).items():
            prop = _without_null(query_prop)
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
    # A media-type key names the type alone; the charset is a header parameter, not a key.
    media_type = op.content_type.partition(";")[0].strip()
    if op.response is not None:
        success["content"] = {media_type: {"schema": keys[(op.response, "serialization")]}}
    elif media_type != "application/json":
        success["content"] = {media_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(op.status): success}
    problem = {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}
    for status, causes in _error_causes(op).items():
        report = (op.method, op.path, status) in _REPORTS and "content" in success
        responses[str(status)] = {
            "description": "; or ".join(causes),
            "content": success["content"] if report else problem,
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


# Without a request to name it, the server is a template whose defaults are the local host.
TEMPLATED_SERVER: dict[str, Any] = {
    "url": "{scheme}://{host}",
    "description": "Any deployment (the defaults are the local host)",
    "variables": {
        "scheme": {"default": "http", "enum": ["http", "https"]},
        "host": {"default": "127.0.0.1:7071"},
    },
}


def openapi_document(version: str, origin: str | None = None) -> dict[str, Any]:
    """The document; ``origin`` (``https://host``) is where it was fetched from.

    That origin is named as the server: the paths carry the host's ``/api`` prefix, so
    the origin is the API base, and a client generated from it needs no base URL by hand.
    """
    document = _document(version)
    servers = [{"url": origin, "description": "This deployment"}] if origin else [TEMPLATED_SERVER]
    return {
        "openapi": document["openapi"],
        "info": document["info"],
        "servers": servers,
        "paths": document["paths"],
        "components": document["components"],
    }


@functools.cache
def _document(version: str) -> dict[str, Any]:
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
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
