"""Response headers every answer carries: request id and security headers.

CORS is the platform's: the Functions host's CORS middleware (Flex and Linux Consumption,
configured from the Function App's allowed origins; the local host plays it) answers
preflights and sets Access-Control-Allow-Origin and Vary. The app adds only
Access-Control-Expose-Headers, which that middleware never sets (its policy exposes
nothing), so a browser on an allowed origin can read the request id and rate-limit headers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping

SECURITY_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
HSTS = "max-age=31536000; includeSubDomains"
EXPOSED_HEADERS = (
    "X-Request-ID, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
    "WWW-Authenticate"
)

_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_from(headers: Mapping[str, str]) -> str:
    """Keep a well-formed incoming X-Request-ID (for tracing across services), else mint one."""
    incoming = headers.get("x-request-id", "")
    if _SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return os.urandom(16).hex()


def is_https(headers: Mapping[str, str]) -> bool:
    """Whether the front end received the request over HTTPS."""
    return headers.get("x-forwarded-proto", "").split(",")[0].strip().lower() == "https"


def apply_common_headers(headers: MutableMapping[str, str], *, request_id: str, hsts: bool) -> None:
    """Add the request id, security headers, HSTS and the exposed-headers list."""
    headers["X-Request-ID"] = request_id
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if hsts:
        headers["Strict-Transport-Security"] = HSTS
    headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
