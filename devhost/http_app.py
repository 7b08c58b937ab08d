"""The WSGI application: werkzeug request in, HTTP function invoked, werkzeug response out."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import azure.functions as func
from azure.functions.http import HttpResponseConverter
from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from devhost.invocation import FunctionInvoker
from devhost.routes import RouteTable

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

# Azure's front end refuses larger request bodies before the function host sees them.
MAX_REQUEST_BODY_BYTES = 100 * 1024 * 1024
_ENCODED_SLASH = re.compile("%2f", re.IGNORECASE)

UnmatchedRouteResponder = Callable[[func.HttpRequest, int], func.HttpResponse]


class _LimitedRequest(Request):
    max_content_length = MAX_REQUEST_BODY_BYTES


class FunctionsWsgiApp:
    """Routes each request to its HTTP function; unmatched ones go to the pipeline's answer."""

    def __init__(
        self,
        table: RouteTable,
        invoker: FunctionInvoker,
        unmatched_route_response: UnmatchedRouteResponder | None = None,
    ) -> None:
        self.table = table
        self.invoker = invoker
        self._unmatched_route_response = unmatched_route_response

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI entry point."""
        return self.respond(_LimitedRequest(environ))(environ, start_response)

    def respond(self, request: Request) -> Response:
        """Answer one request."""
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return host_problem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload_too_large")
        except BadRequest:  # the client sent less than its Content-Length
            return host_problem(HTTPStatus.BAD_REQUEST, "incomplete_body")
        path = path_segments(request.environ)
        found = self.table.match(request.method, path)
        function_request = to_function_request(request, body, found.params if found else {})
        try:
            if found is None:
                return self._respond_unmatched(function_request, path)
            result = self.invoker.call(
                found.route.user_function, {found.route.argument_name: function_request}
            )
            return to_werkzeug_response(result)
        except Exception:
            handler = found.route.function_name if found else "unmatched_route_response"
            logger.exception("Unhandled exception from %s (%s)", handler, request.method)
            return host_problem(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error")

    def _respond_unmatched(self, request: func.HttpRequest, path: list[str]) -> Response:
        allowed = self.table.methods_at(path)
        status = HTTPStatus.METHOD_NOT_ALLOWED if allowed else HTTPStatus.NOT_FOUND
        responder = self._unmatched_route_response or _pipeline_unmatched_route_response()
        response = to_werkzeug_response(responder(request, status))
        if allowed:
            response.headers["Allow"] = ", ".join(sorted(allowed))
        return response


def _pipeline_unmatched_route_response() -> UnmatchedRouteResponder:
    # Imported on first use: the pipeline belongs to the app, which loads after settings.
    from shared.http.pipeline import unmatched_route_response

    return unmatched_route_response


def path_segments(environ: WSGIEnvironment) -> list[str]:
    """The request path as decoded segments; a trailing slash is ignored, as in ASP.NET."""
    raw_target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or "/"
    raw_path = urlsplit(raw_target.encode("latin-1").decode("utf-8", "replace")).path
    text = raw_path.removeprefix("/").removesuffix("/")
    if not text:
        return []
    # ASP.NET leaves an encoded slash encoded, so a route value never gains a separator.
    return [unquote(_ENCODED_SLASH.sub("%252F", segment)) for segment in text.split("/")]


def to_function_request(
    request: Request, body: bytes, route_params: dict[str, str]
) -> func.HttpRequest:
    """The func.HttpRequest the worker would build, with the front end's forwarding headers."""
    headers = dict(request.headers.items())
    forwarded_for, client = headers.get("X-Forwarded-For"), request.remote_addr
    if client:
        headers["X-Forwarded-For"] = f"{forwarded_for}, {client}" if forwarded_for else client
    headers["X-Forwarded-Proto"] = request.scheme
    return func.HttpRequest(
        method=request.method,
        url=request.url,
        headers=headers,
        # The host joins repeated query parameters with commas.
        params={name: ",".join(values) for name, values in request.args.lists()},
        route_params=route_params,
        body=body,
    )


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
    return Response(value["body"].value, int(value["status_code"].value), headers)


def host_problem(status: HTTPStatus, code: str) -> Response:
    """A problem+json answer from the host itself, when no function produced one."""
    request_id = uuid.uuid4().hex  # the same shape as the pipeline's request ids
    body = {
        "type": "about:blank",
        "title": status.phrase,
        "status": status.value,
        "code": code,
        "request_id": request_id,
    }
    return Response(
        json.dumps(body),
        status.value,
        headers={"X-Request-ID": request_id},
        mimetype="application/problem+json",
    )
