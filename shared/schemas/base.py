"""Base classes for request and response models.

Every model defers building its validator until first use, so importing the app
(the Functions cold start) does not pay for schemas that a given instance never uses.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """A JSON body: exact schema, no coercion, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True, frozen=True)


class QueryModel(BaseModel):
    """Query-string parameters: strings coerced to the declared types, unknown names refused."""

    model_config = ConfigDict(extra="forbid", defer_build=True, frozen=True)


class ResponseModel(BaseModel):
    """A response body."""

    model_config = ConfigDict(defer_build=True)


ItemT = TypeVar("ItemT")


class Page(ResponseModel, Generic[ItemT]):
    """One page of a list; pass ``next_cursor`` back as ``?cursor=`` for the next."""

    items: list[ItemT]
    next_cursor: str | None


class Problem(ResponseModel):
    """RFC 9457 problem details, the body of every error."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str
    errors: list[dict[str, object]] | None = None


class Message(ResponseModel):
    """A short human-readable acknowledgement."""

    detail: str
