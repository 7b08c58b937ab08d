"""A small client for external HTTP APIs: timeout, one retry, a User-Agent, clear errors."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import IO
from urllib.parse import urlsplit

USER_AGENT = "runtime-traitors-backend (+external-api-client)"
MAX_RESPONSE_BYTES = 1024 * 1024
RETRY_PAUSE_SECONDS = 0.2
ALLOWED_SCHEMES = frozenset({"http", "https"})


class ExternalApiError(RuntimeError):
    """Raised when an external API stays unreachable or answers with an error."""


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects only to http/https, never to ftp: or other urllib schemes."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme not in ALLOWED_SCHEMES:
            raise ExternalApiError(f"{_host(req.full_url)} redirected to a non-HTTP URL")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def get_text(
    url: str,
    *,
    timeout: float,
    retries: int = 1,
    headers: Mapping[str, str] | None = None,
) -> str:
    """GET a URL and return its body as text; retry network errors, 5xx and 429."""
    if urlsplit(url).scheme not in ALLOWED_SCHEMES:
        raise ValueError("only http and https URLs are allowed")
    # The scheme was just checked against ALLOWED_SCHEMES, which is what S310 warns about.
    request = urllib.request.Request(  # noqa: S310
        url, headers={"User-Agent": USER_AGENT, **(headers or {})}
    )
    # Built per call so proxy settings from the environment are read fresh.
    opener = urllib.request.build_opener(_HttpOnlyRedirects)
    failure = "no attempt made"
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(RETRY_PAUSE_SECONDS)
        try:
            return _fetch(opener, request, timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code != 429 and exc.code < 500:
                raise ExternalApiError(f"{_host(url)} answered HTTP {exc.code}") from None
            failure = f"HTTP {exc.code}"
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            failure = type(exc).__name__
    # Messages name only the host: paths and queries may carry keys or hash prefixes.
    raise ExternalApiError(f"{_host(url)} failed after {retries + 1} attempt(s): {failure}")


def _fetch(
    opener: urllib.request.OpenerDirector, request: urllib.request.Request, timeout: float
) -> str:
    with opener.open(request, timeout=timeout) as response:
        body: bytes = response.read(MAX_RESPONSE_BYTES + 1)
        if len(body) > MAX_RESPONSE_BYTES:
            raise ExternalApiError(
                f"{_host(request.full_url)} sent more than {MAX_RESPONSE_BYTES} bytes"
            )
        charset = response.headers.get_content_charset() or "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:  # a charset name Python does not know
        return body.decode("utf-8", errors="replace")


def _host(url: str) -> str:
    return urlsplit(url).hostname or "the external API"
