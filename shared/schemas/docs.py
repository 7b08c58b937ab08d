"""Documentation responses."""

from __future__ import annotations

from shared.schemas.base import ResponseModel


class OpenApiDocument(ResponseModel):
    """An OpenAPI 3.1 document (see https://spec.openapis.org/oas/v3.1.0)."""

    openapi: str
