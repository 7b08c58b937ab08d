"""Development only: a browser page that uploads a file straight to Blob Storage.

function_app registers this blueprint only when ENVIRONMENT=development is set.
"""

from __future__ import annotations

from shared.http.api import HttpApi
from shared.http.pipeline import ApiRequest, ApiResponse
from shared.http.registry import RateLimit

api = HttpApi(tags=["demo"])
DEV_ONLY = {"documented": False, "rate_limit": RateLimit.NONE}


@api.get(
    "demo/uploads",
    name="demo_uploads_page",
    summary="Browser upload demo page (development only)",
    content_type="text/html; charset=utf-8",
    **DEV_ONLY,
)
def uploads_page(request: ApiRequest) -> ApiResponse[str]:
    """Sign in, pick a file, watch it go to Blob Storage and come back as a thumbnail."""
    from shared.services import demo

    page = demo.page()
    return ApiResponse(
        status=200,
        body=page.body,
        content_type=page.content_type,
        headers={"Content-Security-Policy": demo.content_security_policy()},
    )


@api.get(
    "demo/uploads.js",
    name="demo_uploads_script",
    summary="Script of the upload demo page (development only)",
    content_type="text/javascript; charset=utf-8",
    **DEV_ONLY,
)
def uploads_script(request: ApiRequest) -> ApiResponse[str]:
    """Plain JavaScript; the access token lives in memory only."""
    from shared.services import demo

    script = demo.script()
    return ApiResponse(status=200, body=script.body, content_type=script.content_type)


@api.get(
    "demo/uploads.css",
    name="demo_uploads_stylesheet",
    summary="Stylesheet of the upload demo page (development only)",
    content_type="text/css; charset=utf-8",
    **DEV_ONLY,
)
def uploads_stylesheet(request: ApiRequest) -> ApiResponse[str]:
    """Served separately so the page's CSP needs no inline styles."""
    from shared.services import demo

    stylesheet = demo.stylesheet()
    return ApiResponse(status=200, body=stylesheet.body, content_type=stylesheet.content_type)


bp = api.blueprint()
