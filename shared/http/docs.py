"""Serve the OpenAPI document and the Swagger UI page that renders it."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass

from shared.config import get_settings
from shared.http.openapi import openapi_document

# Swagger UI is pinned and loaded with Subresource Integrity, so a compromised CDN
# cannot run script on this origin. Hashes are of the published npm package files.
SWAGGER_UI_VERSION = "5.32.0"
SWAGGER_UI_BASE = f"https://cdn.jsdelivr.net/npm/swagger-ui-dist@{SWAGGER_UI_VERSION}"
SWAGGER_JS_SRI = "sha384-7xcoc6ZKDFF7Ek627QTC3Bg/K+5Y36NJ8MWAE43D2m6+3Sh9XO3tdsfHhrS8gNIQ"
SWAGGER_CSS_SRI = "sha384-3nuX7df3EaAoiqLBeyS1Ola0Gpg9ryJKVtarubwfnA1cOH8AWHUdbPSIvEqPZ9VH"
OPENAPI_URL = "/api/v1/openapi.json"

_INIT_SCRIPT = (
    "window.ui = SwaggerUIBundle({url: "
    + json.dumps(OPENAPI_URL)
    + ", dom_id: '#swagger-ui', deepLinking: true});"
)


@dataclass(frozen=True)
class DocsPage:
    html: str
    content_security_policy: str


def openapi_json() -> bytes:
    """The OpenAPI document as JSON bytes."""
    return _openapi_bytes(get_settings().APP_VERSION)


@functools.cache
def _openapi_bytes(version: str) -> bytes:
    return json.dumps(openapi_document(version), separators=(",", ":")).encode()


@functools.cache
def swagger_page() -> DocsPage:
    """The Swagger UI page and the CSP that admits exactly its assets."""
    digest = base64.b64encode(hashlib.sha256(_INIT_SCRIPT.encode()).digest()).decode()
    csp = (
        "default-src 'none'; "
        f"script-src {SWAGGER_UI_BASE}/ 'sha256-{digest}'; "
        f"style-src {SWAGGER_UI_BASE}/; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
    )
    html = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Runtime Traitors API</title>
  <link rel="stylesheet" href="{SWAGGER_UI_BASE}/swagger-ui.css"
        integrity="{SWAGGER_CSS_SRI}" crossorigin="anonymous">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{SWAGGER_UI_BASE}/swagger-ui-bundle.js"
          integrity="{SWAGGER_JS_SRI}" crossorigin="anonymous"></script>
  <script>{_INIT_SCRIPT}</script>
</body>
</html>
"""
    return DocsPage(html=html, content_security_policy=csp)
