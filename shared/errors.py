"""Errors raised anywhere in the app and rendered once, as RFC 9457 problem details."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

PROBLEM_TYPE_BASE = "https://runtime-traitors.dev/problems/"


class ApiError(Exception):
    """An error a client can act on; rendered as problem+json by the pipeline."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.error_code = code or self.code
        self.headers = dict(headers or {})
        self.errors = list(errors) if errors is not None else None

    def problem(self, request_id: str) -> dict[str, Any]:
        """The problem-details body for this error."""
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.error_code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.error_code,
            "request_id": request_id,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class BadRequest(ApiError):
    status, code, title = 400, "bad_request", "Bad request"


class InvalidJson(ApiError):
    status, code, title = 400, "invalid_json", "Request body is not valid JSON"


class Unauthorized(ApiError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        super().__init__(detail, code=code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(ApiError):
    status, code, title = 404, "not_found", "Not found"


class MethodNotAllowed(ApiError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class Conflict(ApiError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLarge(ApiError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class UnsupportedMediaType(ApiError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class ValidationFailed(ApiError):
    status, code, title = 422, "validation_error", "Request is not valid"


class TooManyRequests(ApiError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(ApiError):
    status, code, title = 503, "service_unavailable", "Service temporarily unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class InternalError(ApiError):
    """Never raised on purpose: the body of every unexpected failure."""

    status, code, title = 500, "internal_error", "Internal server error"
