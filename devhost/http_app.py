"""The WSGI application: werkzeug request in, HTTP function invoked, werkzeug response out.

It behaves like the Azure Functions host and its front end wherever the app can tell
(azure-functions-host 4.1037 and its HTTP extension, the Python worker 4.34):
- a path no function serves, or a method its route does not list, is answered by the host
  itself: 404 with an empty body (never 405; HEAD is not GET);
- the platform's CORS middleware answers preflights and adds Access-Control-Allow-Origin
  for allowed origins (devhost/cors.py);
- a chunked request body (no Content-Length) reaches the function empty; a query parameter
  with an empty value is dropped; request headers keep underscores in their names;
- an exception escaping a function is a 500 with an empty body;
- request bodies over FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (100 MiB) get 413 and URLs over
  4 KiB get 414, before any function runs;
- at most PYTHON_THREADPOOL_THREAD_COUNT synchronous invocations run at once (the worker's
  default: min(32, cores + 4)).
The differences that remain are listed in docs/architecture.md.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func
from azure.functions.http import HttpResponseConverter
from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from devhost.cors import PlatformCors
from devhost.invocation import FunctionInvoker
from devhost.routes import RouteTable

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

# The host's default request body limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, bytes).
MAX_REQUEST_BODY_BYTES = 100 * 1024 * 1024
# Azure's front end refuses longer request URLs.
MAX_URL_BYTES = 4096
RAW_HEADERS_KEY = "devhost.raw_headers"  # set by devhost.http_runner's request handler
_ENCODED_SLASH = re.compile("%2f", re.IGNORECASE)


def body_size_limit(environ: Mapping[str, str] = os.environ) -> int:
    """FUNCTIONS_REQUEST_BODY_SIZE_LIMIT in bytes, as the host reads it (default 100 MiB)."""
    value = environ.get("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else MAX_REQUEST_BODY_BYTES


def worker_thread_count(environ: Mapping[str, str] = os.environ) -> int:
    """PYTHON_THREADPOOL_THREAD_COUNT, else the worker's default min(32, cores + 4)."""
    value = environ.get("PYTHON_THREADPOOL_THREAD_COUNT", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return min(32, (os.cpu_count() or 1) + 4)


class FunctionsWsgiApp:
    """Routes each request to its HTTP function, as the Functions host does."""

    def __init__(
        self,
        table: RouteTable,
        invoker: FunctionInvoker,
        *,
        cors: PlatformCors | None = None,
        max_body_bytes: int | None = None,
        threads: int | None = None,
    ) -> None:
        self.table = table
        self.invoker = invoker
        self.cors = cors or PlatformCors.from_environment()
        self.max_body_bytes = max_body_bytes or body_size_limit()
        self._slots = threading.BoundedSemaphore(threads or worker_thread_count())

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI entry point."""
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        return self.respond(request)(environ, start_response)

    def respond(self, request: Request) -> Response:
        """Answer one request: the platform's CORS around the host's routing."""
        preflight = self.cors.preflight(request.method, request.headers)
        if preflight is not None:
            return preflight
        response = self._route(request)
        self.cors.decorate(request.headers, response)
        return response

    def _route(self, request: Request) -> Response:
        raw_target = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or "/"
        if len(raw_target.encode("latin-1", "replace")) > MAX_URL_BYTES:
            return empty_response(HTTPStatus.REQUEST_URI_TOO_LONG)
        try:
            body = _request_body(request)
        except RequestEntityTooLarge:
            return empty_response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        except BadRequest:  # the client sent less than its Content-Length
            return empty_response(HTTPStatus.BAD_REQUEST)
        found = self.table.match(request.method, path_segments(request.environ))
        if found is None:
            return empty_response(HTTPStatus.NOT_FOUND)
        function_request = to_function_request(request, body, found.params)
        try:
            with self._slots:
                result = self.invoker.call(
                    found.route.user_function, {found.route.argument_name: function_request}
                )
            return to_werkzeug_response(result)
        except Exception:
            logger.exception(
                "Unhandled exception from %s (%s)", found.route.function_name, request.method
            )
            return empty_response(HTTPStatus.INTERNAL_SERVER_ERROR)


def _request_body(request: Request) -> bytes:
    # The host hands the worker no body for a request without Content-Length (chunked).
    if request.headers.get("Content-Length") is None:
        request.get_data(cache=False)  # drain it so the connection stays usable
        return b""
    return request.get_data(cache=False)


def empty_response(status: HTTPStatus) -> Response:
    """An answer from the host itself: the status and nothing else."""
    response = Response(b"", status.value)
    response.headers.remove("Content-Type")
    return response


def path_segments(environ: WSGIEnvironment) -> list[str]:
    """The request path as decoded segments; a trailing slash is ignored, as in ASP.NET."""
    raw_target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or "/"
    raw_path = urlsplit(raw_target.encode("latin-1").decode("utf-8", "replace")).path
    text = raw_path.removeprefix("/").removesuffix("/")
    if not text:
        return []
    # ASP.NET leaves an encoded slash encoded, so a route value never gains a separator.
    return [unquote(_ENCODED_SLASH.sub("%252F", segment)) for segment in text.split("/")]


def request_headers(request: Request) -> dict[str, str]:
    """The request's headers as the client sent them, underscores included.

    werkzeug's WSGI environ cannot tell `X_Foo` from `X-Foo` and its server drops names
    with underscores; the host keeps them, so the local server records the raw list.
    Repeated headers are joined with commas, as the host does.
    """
    raw: Sequence[tuple[str, str]] | None = request.environ.get(RAW_HEADERS_KEY)
    pairs = raw if raw is not None else list(request.headers.items())
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def query_params(request: Request) -> dict[str, str]:
    """Query parameters as the host passes them: empty values dropped, repeats joined by ','."""
    raw_query = request.environ.get("QUERY_STRING", "")
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=False):
        params.setdefault(name, []).append(value)
    return {name: ",".join(values) for name, values in params.items()}


def to_function_request(
    request: Request, body: bytes, route_params: dict[str, str]
) -> func.HttpRequest:
    """The func.HttpRequest the worker would build, with the front end's forwarding headers."""
    headers = request_headers(request)
    forwarded = next((v for k, v in headers.items() if k.lower() == "x-forwarded-for"), None)
    headers = {k: v for k, v in headers.items() if k.lower() not in _FRONT_END_HEADERS}
    client = request.remote_addr
    if client:
        headers["X-Forwarded-For"] = f"{forwarded}, {client}" if forwarded else client
    elif forwarded:
        headers["X-Forwarded-For"] = forwarded
    # The front end states the scheme it received; the local server speaks plain HTTP.
    headers["X-Forwarded-Proto"] = request.scheme
    return func.HttpRequest(
        method=request.method,
        url=request.url,
        headers=headers,
        params=query_params(request),
        route_params=route_params,
        body=body,
    )


_FRONT_END_HEADERS = frozenset({"x-forwarded-for", "x-forwarded-proto"})


def to_werkzeug_response(result: object) -> Response:
    """Encode a function's return value as the worker does, then as a werkzeug response."""
    if not isinstance(result, func.HttpResponse | str):
        raise TypeError(f"HTTP function returned {type(result).__name__}, not func.HttpResponse")
    datum = HttpResponseConverter.encode(result, expected_type=None)
    if datum.type == "string":
        return Response(datum.value, HTTPStatus.OK, mimetype="text/plain")
    value: dict[str, Any] = datum.value
    headers = Headers([(name, header.value) for name, header in value["headers"].items()])
    for cookie in value["cookies"] or []:
        for morsel in cookie.values():
            headers.add("Set-Cookie", morsel.OutputString())
    response = Response(value["body"].value, int(value["status_code"].value), headers)
    if not response.headers.get("Content-Type"):
        del response.headers["Content-Type"]  # as the host does: an empty type is no type
    return response
