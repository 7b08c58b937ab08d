"""API documentation: the OpenAPI document and a Swagger UI page for it."""

import azure.functions as func

from shared.http.pipeline import ApiRequest, ApiResponse, endpoint

bp = func.Blueprint()


@endpoint(
    bp,
    name="openapi_document",
    route="v1/openapi.json",
    method="GET",
    summary="The OpenAPI 3.1 document of every route",
    tags=["docs"],
    response="docs.OpenApiDocument",
)
def openapi_document(request: ApiRequest) -> ApiResponse:
    """Generated from the registered routes and their pydantic schemas."""
    from shared.services.docs import openapi_json

    return ApiResponse(status=200, body=openapi_json())


@endpoint(
    bp,
    name="docs_page",
    route="docs",
    method="GET",
    summary="Swagger UI for the OpenAPI document",
    tags=["docs"],
    content_type="text/html; charset=utf-8",
)
def docs_page(request: ApiRequest) -> ApiResponse:
    """An HTML page; its CSP admits only the pinned Swagger UI assets."""
    from shared.services.docs import swagger_page

    page = swagger_page()
    return ApiResponse(
        status=200,
        body=page.html,
        content_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": page.content_security_policy},
    )
