"""Development only: a browser page that uploads a file straight to Blob Storage.

function_app registers this blueprint only when ENVIRONMENT is development.
"""

from __future__ import annotations

import azure.functions as func

from shared.http.pipeline import ApiRequest, ApiResponse, endpoint
from shared.http.registry import RateLimit

bp = func.Blueprint()
TAGS = ["demo"]


@endpoint(
    bp,
    name="demo_uploads_page",
    route="demo/uploads",
    method="GET",
    summary="Browser upload demo page (development only)",
    tags=TAGS,
    documented=False,
    rate_limit=RateLimit.NONE,
    content_type="text/html; charset=utf-8",
)
def uploads_page(request: ApiRequest) -> ApiResponse:
    """Sign in, pick a file, watch it go to Blob Storage and come back as a thumbnail."""
    from shared.services import demo

    page = demo.page()
    return ApiResponse(
        status=200,
        body=page.body,
        content_type=page.content_type,
        headers={"Content-Security-Policy": demo.content_security_policy()},
    )


@endpoint(
    bp,
    name="demo_uploads_script",
    route="demo/uploads.js",
    method="GET",
    summary="Script of the upload demo page (development only)",
    tags=TAGS,
    documented=False,
    rate_limit=RateLimit.NONE,
    content_type="text/javascript; charset=utf-8",
)
def uploads_script(request: ApiRequest) -> ApiResponse:
    """Plain JavaScript; the access token lives in memory only."""
    from shared.services import demo

    script = demo.script()
    return ApiResponse(status=200, body=script.body, content_type=script.content_type)


@endpoint(
    bp,
    name="demo_uploads_stylesheet",
    route="demo/uploads.css",
    method="GET",
    summary="Stylesheet of the upload demo page (development only)",
    tags=TAGS,
    documented=False,
    rate_limit=RateLimit.NONE,
    content_type="text/css; charset=utf-8",
)
def uploads_stylesheet(request: ApiRequest) -> ApiResponse:
    """Served separately so the page's CSP needs no inline styles."""
    from shared.services import demo

    stylesheet = demo.stylesheet()
    return ApiResponse(status=200, body=stylesheet.body, content_type=stylesheet.content_type)
