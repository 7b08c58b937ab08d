"""Response headers every answer carries: request id, security headers and CORS."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping, Sequence

SECURITY_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
HSTS = "max-age=31536000; includeSubDomains"
ALLOWED_REQUEST_HEADERS = "Authorization, Content-Type, X-Request-ID"
EXPOSED_HEADERS = (
    "X-Request-ID, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
    "WWW-Authenticate"
)
PREFLIGHT_MAX_AGE = "600"

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


def apply_common_headers(
    headers: MutableMapping[str, str],
    *,
    request_id: str,
    hsts: bool,
    origin: str | None,
    allowed_origins: Sequence[str],
) -> None:
    """Add the request id, security headers, HSTS and simple-request CORS headers."""
    headers["X-Request-ID"] = request_id
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if hsts:
        headers["Strict-Transport-Security"] = HSTS
    headers["Vary"] = "Origin"
    if origin and origin in allowed_origins:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS


def preflight_headers(methods: Sequence[str]) -> dict[str, str]:
    """Headers of a preflight answer; the caller adds Allow-Origin only for allowed origins."""
    allowed = ", ".join([*methods, "OPTIONS"])
    return {
        "Allow": allowed,
        "Access-Control-Allow-Methods": allowed,
        "Access-Control-Allow-Headers": ALLOWED_REQUEST_HEADERS,
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
    }
