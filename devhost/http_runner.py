"""Serves every HTTP-triggered function with werkzeug's threaded development server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import azure.functions as func
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from devhost.host_rules import HttpFunctionSpec, refusals
from devhost.http_app import RAW_HEADERS_KEY, FunctionsWsgiApp
from devhost.indexing import function_name, trigger_binding
from devhost.invocation import FunctionInvoker
from devhost.route_template import RouteTemplateError
from devhost.routes import HttpRoute, RouteOverlap, RouteTable, find_route_overlaps
from devhost.triggers import HostOptions, HostStartupError

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


class _RequestHandler(WSGIRequestHandler):
    """Keeps the raw header list: werkzeug drops names with underscores; Azure keeps them."""

    def make_environ(self) -> WSGIEnvironment:
        environ = super().make_environ()
        environ[RAW_HEADERS_KEY] = list(self.headers.items())
        return environ


class HttpTriggerRunner:
    """Routes requests to HTTP functions; refuses to start where Azure would refuse a function.

    Two checks: the host's own rules (devhost/host_rules.py: equal templates with shared
    methods, reserved prefixes, repeated names), and templates that differ but match the
    same path and method, which Azure orders by function name rather than specificity.
    """

    def __init__(self, functions: Sequence[func.Function], options: HostOptions) -> None:
        self.options = options
        refused = refusals(_specs(functions))
        if refused:
            raise HostStartupError(
                "The Azure Functions host would refuse these functions:\n"
                + "\n".join(f"  {r.function_name}: {r.reason}" for r in refused)
            )
        self.table = RouteTable(_routes(functions), options.route_prefix)
        overlaps = find_route_overlaps(self.table.routes)
        if overlaps:
            raise HostStartupError("\n".join(self._explain(overlap) for overlap in overlaps))
        self.invoker = FunctionInvoker()
        self.app = FunctionsWsgiApp(self.table, self.invoker)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The scheme, host and port the server listens on."""
        port = self._server.server_port if self._server else self.options.port
        return f"http://{self.options.host}:{port}"

    def describe(self) -> list[str]:
        """`name: [METHODS] url` for each HTTP function, as Core Tools prints them."""
        return [
            f"{route.function_name}: [{','.join(sorted(route.methods))}] "
            f"{self.base_url}{self.table.url_path(route.template.text)}"
            for route in self.table.routes
        ]

    def start(self) -> None:
        """Bind the port and serve on a background thread."""
        # werkzeug logs every request; the app's pipeline already writes an access log.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        try:
            self._server = make_server(
                self.options.host,
                self.options.port,
                self.app,
                threaded=True,
                request_handler=_RequestHandler,
            )
        except (OSError, SystemExit):  # werkzeug explains a busy port itself, then exits
            raise HostStartupError(f"cannot listen on {self.base_url}") from None
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # Shutdown waits up to one poll interval: short, so SIGTERM stops within 2 s.
            kwargs={"poll_interval": 0.1},
            name="devhost-http",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting requests and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self.invoker.close()

    def _explain(self, overlap: RouteOverlap) -> str:
        first, second = overlap.first, overlap.second
        sample = self.table.url_path(overlap.sample_path)
        return (
            f"Routes overlap: {','.join(sorted(overlap.methods))} {sample} matches both "
            f"{first.function_name} (route {first.route!r}) and {second.function_name} "
            f"(route {second.route!r}). Azure does not prefer the more specific template, "
            "so one would silently shadow the other: constrain the parameter to its real "
            "shape (e.g. {user_id:regex(...)}) or use distinct literals."
        )


def _routes(functions: Sequence[func.Function]) -> list[HttpRoute]:
    routes = []
    for function in functions:
        try:
            routes.append(HttpRoute.from_function(function))
        except RouteTemplateError as exc:
            raise HostStartupError(f"function {function_name(function)}: {exc}") from None
    return routes


def _specs(functions: Sequence[func.Function]) -> list[HttpFunctionSpec]:
    specs = []
    for function in functions:
        binding = trigger_binding(function)
        if binding["type"] == "httpTrigger":
            methods = binding.get("methods")
            specs.append(HttpFunctionSpec(function_name(function), binding.get("route"), methods))
    return specs
