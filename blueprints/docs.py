"""API documentation: the OpenAPI document and a Swagger UI page for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.http.api import HttpApi
from shared.http.pipeline import ApiRequest, ApiResponse

if TYPE_CHECKING:
    from shared.schemas.docs import OpenApiDocument

HTML = "text/html; charset=utf-8"
api = HttpApi(tags=["docs"])


@api.get(
    "v1/openapi.json", name="openapi_document", summary="The OpenAPI 3.1 document of every route"
)
def openapi_document(request: ApiRequest) -> ApiResponse[OpenApiDocument]:
    """Generated from the registered routes and their pydantic schemas."""
    from shared.http.docs import openapi_json

    return ApiResponse(status=200, body=openapi_json(request.headers))


@api.get("docs", name="docs_page", summary="Swagger UI for the OpenAPI document", content_type=HTML)
def docs_page(request: ApiRequest) -> ApiResponse[str]:
    """An HTML page; its CSP admits only the pinned Swagger UI assets."""
    from shared.http.docs import swagger_page

    page = swagger_page()
    return ApiResponse(
        status=200,
        body=page.html,
        content_type=HTML,
        headers={"Content-Security-Policy": page.content_security_policy},
    )


bp = api.blueprint()
