"""Serve the OpenAPI document and the Swagger UI page that renders it."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Mapping
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


# A host name or bracketed IPv6 address, with an optional port; other header values are
# ignored rather than echoed into the document.
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?\.?)+(?::[0-9]{1,5})?"
    r"|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?"
)


def openapi_json(request_headers: Mapping[str, str] | None = None) -> bytes:
    """The OpenAPI document as JSON bytes, naming the origin it was requested from."""
    settings = get_settings()
    origin = request_origin(request_headers or {}, production=settings.is_production)
    return _openapi_bytes(settings.APP_VERSION, origin)


def request_origin(request_headers: Mapping[str, str], *, production: bool) -> str | None:
    """``scheme://host`` as the client addressed this app, or None when the headers don't say.

    The host is X-Forwarded-Host (a gateway in front) or Host; the scheme is https in
    production (plain HTTP is refused there), else X-Forwarded-Proto (which the Azure
    front end and the local host set). Only the requester sees the result, so a forged
    header misleads no one else; a value that is not a host name is ignored.
    """
    forwarded = request_headers.get("x-forwarded-host", "").split(",")[0].strip()
    host = forwarded or request_headers.get("host", "").strip()
    if not host or not _HOST.fullmatch(host):
        return None
    proto = request_headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    scheme = "https" if production or proto == "https" else "http"
    return f"{scheme}://{host}"


@functools.lru_cache(maxsize=16)  # bounded: the origin comes from request headers
def _openapi_bytes(version: str, origin: str | None) -> bytes:
    return json.dumps(openapi_document(version, origin), separators=(",", ":")).encode()


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
