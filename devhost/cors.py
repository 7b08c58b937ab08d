"""The platform's CORS layer, played by the local host.

On Flex and Linux Consumption the Functions host runs ASP.NET Core's CorsMiddleware ahead
of every function (azure-functions-host 4.1037: ``JobHostCorsMiddleware``,
``CorsOptionsSetup``, ``HostCorsOptionsSetup``), with one policy built from the Function
App's allowed origins (``CORS_ALLOWED_ORIGINS``): those origins, any header, any method,
credentials only when ``CORS_SUPPORT_CREDENTIALS`` is set (never here). So:
- a request with ``Origin`` and without ``Access-Control-Request-Method`` is passed on; if
  its origin is allowed, ``Access-Control-Allow-Origin`` is set on whatever answer comes
  back (replacing any the function set) and ``Vary: Origin`` added when the policy lists
  more than one origin;
- a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) never
  reaches a function: 204, and for an allowed origin the origin, the requested method and
  the requested headers echoed back; for any other origin, no CORS header at all.
The local host builds the policy from ``CORS_ORIGINS``, the list the infrastructure also
gives the Function App, so both sides answer alike.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response


@dataclass(frozen=True)
class PlatformCors:
    """One CORS policy: exact origins, any method, any header, no credentials."""

    allowed_origins: Sequence[str]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> PlatformCors:
        """The policy for CORS_ORIGINS (a JSON list or comma-separated origins)."""
        return cls(parse_origins(environ.get("CORS_ORIGINS", "")))

    def preflight(self, method: str, headers: Headers) -> Response | None:
        """The middleware's own answer to a preflight; None for any other request."""
        origin = headers.get("Origin")
        requested_method = headers.get("Access-Control-Request-Method")
        if method.upper() != "OPTIONS" or origin is None or requested_method is None:
            return None
        response = Response(b"", 204)
        response.headers.remove("Content-Type")
        if origin in self.allowed_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = requested_method
            requested_headers = headers.get("Access-Control-Request-Headers", "").strip()
            if requested_headers:
                response.headers["Access-Control-Allow-Headers"] = requested_headers
            self._vary(response)
        return response

    def decorate(self, headers: Headers, response: Response) -> None:
        """Set the allow-origin header on an answer for an allowed origin (replacing any)."""
        origin = headers.get("Origin")
        if origin is None or origin not in self.allowed_origins:
            return
        response.headers["Access-Control-Allow-Origin"] = origin
        self._vary(response)

    def _vary(self, response: Response) -> None:
        if len(self.allowed_origins) > 1:
            response.headers.add("Vary", "Origin")


def parse_origins(value: str) -> list[str]:
    """Origins from a JSON list or a comma-separated string, as the app's settings read them."""
    text = value.strip()
    if text.startswith("["):
        parsed = json.loads(text)
        return [str(origin).strip() for origin in parsed if str(origin).strip()]
    return [origin.strip() for origin in text.split(",") if origin.strip()]
