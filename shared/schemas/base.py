"""Base classes for request and response models.

Every model defers building its validator until first use, so importing the app
(the Functions cold start) does not pay for schemas that a given instance never uses.

The JSON schemas are what client generators see at their default settings, so:
an optional request field is simply not required (no ``default`` in its schema: with one,
openapi-typescript types the property as required), it admits ``null`` only where null
means something (``Omittable`` fields accept a null but do not advertise it), and every
response field the server always sends is required.
"""

from __future__ import annotations

import json
from typing import Any, Generic, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

T = TypeVar("T")

# An optional request field whose null means the same as leaving it out: the schema says
# "omit it", while a client that sends null anyway is still accepted.
Omittable: TypeAlias = T | SkipJsonSchema[None]


def _defaults_as_text(schema: dict[str, Any]) -> None:
    """Move each property's default into its description (see the module docstring)."""
    for prop in schema.get("properties", {}).values():
        if "default" not in prop:
            continue
        default = prop.pop("default")
        if default is not None:
            note = f"Default: {json.dumps(default)}."
            prop["description"] = f"{prop['description']} {note}" if "description" in prop else note


class RequestModel(BaseModel):
    """A JSON body: exact schema, no coercion, unknown fields refused."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        defer_build=True,
        frozen=True,
        json_schema_extra=_defaults_as_text,
    )


class QueryModel(BaseModel):
    """Query-string parameters: strings coerced to the declared types, unknown names refused."""

    model_config = ConfigDict(extra="forbid", defer_build=True, frozen=True)


class ResponseModel(BaseModel):
    """A response body: every field is always sent (null when it has no value)."""

    model_config = ConfigDict(defer_build=True, json_schema_serialization_defaults_required=True)


ItemT = TypeVar("ItemT")


class Page(ResponseModel, Generic[ItemT]):
    """One page of a list; pass ``next_cursor`` back as ``?cursor=`` for the next."""

    items: list[ItemT]
    next_cursor: str | None


class FieldError(ResponseModel):
    """One reason a request was refused, and where in the request."""

    loc: list[str] = Field(description='Where: ["body", "email"], ["query", "cursor"], ...')
    msg: str
    type: str = Field(description="A machine-readable kind, e.g. missing or weak_password")


def _errors_only_when_present(schema: dict[str, Any]) -> None:
    schema["properties"]["errors"].pop("default", None)
    schema["required"] = [name for name in schema["required"] if name != "errors"]


class Problem(ResponseModel):
    """RFC 9457 problem details, the body of every error."""

    model_config = ConfigDict(json_schema_extra=_errors_only_when_present)

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str
    # Present only on 422 (and weak_password) answers; never null (shared/errors.py).
    errors: Omittable[list[FieldError]] = None


class Message(ResponseModel):
    """A short human-readable acknowledgement."""

    detail: str
