"""Declaring an area's HTTP operations, and registering them as Azure Functions.

The Functions host refuses an HTTP function whose route template equals another's
(trimmed of '/', case-insensitive) when their method lists intersect, and every route
lists OPTIONS (ScriptHost ``ValidateFunction`` / ``HttpRoutesConflict``). So operations
are declared one per method, but registered one function per route template: its methods
are the union of its operations' plus OPTIONS, and the pipeline dispatches by method.

    api = HttpApi(tags=["users"])

    @api.get("v1/users/me", name="users_me_get", summary="The signed-in user",
             min_role=Role.GUEST)
    def read_me(request: ApiRequest) -> UserPublic: ...

    bp = api.blueprint()  # one func.Blueprint per area, for function_app
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import azure.functions as func

from shared import telemetry
from shared.http import pipeline, registry
from shared.http.registry import Operation, RateLimit
from shared.identity import Role

JSON = "application/json"
HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


class HttpApi:
    """The operations of one area (auth, users...), built into one func.Blueprint."""

    def __init__(self, *, tags: Sequence[str]) -> None:
        self.tags = tuple(tags)
        self.operations: list[Operation] = []

    def get(self, route: str, **options: Any) -> Callable[[HandlerT], HandlerT]:
        """Declare a GET operation (see `operation` for the options)."""
        return self.operation("GET", route, **options)

    def post(self, route: str, **options: Any) -> Callable[[HandlerT], HandlerT]:
        """Declare a POST operation."""
        return self.operation("POST", route, **options)

    def patch(self, route: str, **options: Any) -> Callable[[HandlerT], HandlerT]:
        """Declare a PATCH operation."""
        return self.operation("PATCH", route, **options)

    def delete(self, route: str, **options: Any) -> Callable[[HandlerT], HandlerT]:
        """Declare a DELETE operation."""
        return self.operation("DELETE", route, **options)

    def operation(
        self,
        method: str,
        route: str,
        *,
        name: str,
        summary: str,
        status: int = 200,
        min_role: Role | None = None,
        rate_limit: RateLimit = RateLimit.ANONYMOUS,
        body_optional: bool = False,
        errors: Sequence[int] = (),
        content_type: str = JSON,
        documented: bool = True,
    ) -> Callable[[HandlerT], HandlerT]:
        """Declare ``handler`` as the operation ``name`` (its OpenAPI operationId).

        ``min_role``: None lets anonymous callers in; Role.GUEST means any signed-in
        account. ``errors``: statuses the handler itself raises, for the OpenAPI document.
        The handler's ``body`` and ``query`` parameters and its return annotation are the
        operation's schemas. Raises ValueError for a repeated name or (route, method).
        """

        def declare(handler: HandlerT) -> HandlerT:
            operation = Operation(
                name=name,
                route=route,
                method=method.upper(),
                summary=summary,
                description=inspect.cleandoc(handler.__doc__ or ""),  # same text on 3.11 to 3.13
                tags=self.tags,
                status=status,
                min_role=min_role,
                rate_limit=rate_limit,
                body_optional=body_optional,
                errors=tuple(errors),
                content_type=content_type,
                handler=handler,
                documented=documented,
            )
            registry.register(operation)
            self.operations.append(operation)
            return handler

        return declare

    def blueprint(self) -> func.Blueprint:
        """A func.Blueprint with one HTTP function per route template."""
        bp = func.Blueprint()
        templates: dict[str, list[Operation]] = {}
        for operation in self.operations:
            key = operation.route.strip("/").casefold()
            templates.setdefault(key, []).append(operation)
        for operations in templates.values():
            _register_function(bp, operations)
        return bp


def _register_function(bp: func.Blueprint, operations: list[Operation]) -> None:
    route = operations[0].route
    name = registry.function_name_for(route)
    by_method = {operation.method: operation for operation in operations}

    def http_function(req: func.HttpRequest) -> func.HttpResponse:
        # A span per request when Application Insights is configured; else a plain call.
        return telemetry.traced_request(req.method, route, lambda: pipeline.run(by_method, req))

    http_function.__name__ = http_function.__qualname__ = name
    http_function.__doc__ = "; ".join(f"{op.method}: {op.summary}" for op in operations)
    bp.function_name(name)(
        bp.route(
            route=route,
            methods=[*by_method, "OPTIONS"],
            auth_level=func.AuthLevel.ANONYMOUS,
        )(http_function)
    )
