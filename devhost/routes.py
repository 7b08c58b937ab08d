"""HTTP routes of the app: request routing and the route-overlap check.

Azure does not prefer the more specific of two matching templates (it orders routes by
function name: azure-functions-host issues 3153 and 9876), so two routes that match
the same path and method may swap silently in the cloud. `find_overlaps` finds them by
taking paths one route serves (its literals, its parameters filled with sample values
they accept) and asking whether another route's template matches them too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import azure.functions as func

from devhost.indexing import function_name, trigger_binding
from devhost.route_template import RouteParameter, RouteSegment, RouteTemplate, parse_template

logger = logging.getLogger(__name__)

HTTP_TRIGGER = "httpTrigger"
ALL_METHODS = frozenset(method.value for method in func.HttpMethod)
# Shapes real parameters take: a MongoDB ObjectId, a UUID, a number, words.
SAMPLE_VALUES = (
    "5f0c9d7e2b4a6c8e1d3f5a7b",
    "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "1",
    "abc",
    "me",
)


@dataclass(frozen=True)
class HttpRoute:
    """An HTTP-triggered function with its parsed route template."""

    function_name: str
    route: str
    methods: frozenset[str]
    template: RouteTemplate
    argument_name: str
    user_function: Callable[..., object]

    @classmethod
    def from_function(cls, function: func.Function) -> HttpRoute:
        """Read the route, methods and trigger argument from the function's bindings."""
        binding = trigger_binding(function)
        route = binding.get("route") or function_name(function)
        methods = binding.get("methods")
        return cls(
            function_name=function_name(function),
            route=route,
            methods=frozenset(m.upper() for m in methods) if methods else ALL_METHODS,
            template=parse_template(route),
            argument_name=binding["name"],
            user_function=function.get_user_function(),
        )


@dataclass(frozen=True)
class RouteOverlap:
    """Two routes that both match `sample_path` for `methods`."""

    first: HttpRoute
    second: HttpRoute
    sample_path: str
    methods: frozenset[str]


@dataclass(frozen=True)
class RouteMatch:
    """The route serving a request, and the route values taken from its path."""

    route: HttpRoute
    params: dict[str, str]


def http_routes(functions: Iterable[func.Function]) -> list[HttpRoute]:
    """The HTTP-triggered functions among the app's functions."""
    return [
        HttpRoute.from_function(function)
        for function in functions
        if trigger_binding(function)["type"] == HTTP_TRIGGER
    ]


def find_overlaps(functions: Iterable[func.Function]) -> list[RouteOverlap]:
    """Every pair of HTTP functions that would answer the same path and method."""
    return find_route_overlaps(http_routes(functions))


def find_route_overlaps(routes: Sequence[HttpRoute]) -> list[RouteOverlap]:
    """Every pair of routes that would answer the same path and method."""
    for route in routes:
        for parameter in route.template.parameters:
            if not _parameter_samples(parameter):
                logger.warning(
                    "No sample value satisfies {%s} in route %r of %s; overlaps with it "
                    "are checked only against other routes' literal segments",
                    parameter.name,
                    route.route,
                    route.function_name,
                )
    overlaps = []
    for index, first in enumerate(routes):
        for second in routes[index + 1 :]:
            methods = first.methods & second.methods
            if not methods:
                continue
            sample = _shared_path(first.template, second.template) or _shared_path(
                second.template, first.template
            )
            if sample is not None:
                overlaps.append(RouteOverlap(first, second, sample, methods))
    return overlaps


def _shared_path(served: RouteTemplate, other: RouteTemplate) -> str | None:
    for path in _sample_paths(served, other):
        if served.match(path) is not None and other.match(path) is not None:
            return "/".join(path)
    return None


def _sample_paths(served: RouteTemplate, other: RouteTemplate) -> Iterator[list[str]]:
    """Paths `served` answers, trying `other`'s literal wherever `served` has a parameter."""
    choices = [
        _segment_choices(segment, _literal_at(other, index))
        for index, segment in enumerate(served.segments)
    ]
    if not all(choices):
        return
    base = [values[0] for values in choices]
    # Varying one segment at a time keeps this linear in the number of samples.
    variants = [base] + [
        [*base[:index], value, *base[index + 1 :]]
        for index, values in enumerate(choices)
        for value in values[1:]
    ]
    omittable_from = len(served.segments)
    while omittable_from > 0 and served.segments[omittable_from - 1].omittable:
        omittable_from -= 1
    for variant in variants:
        for length in range(len(variant), omittable_from - 1, -1):
            yield variant[:length]


def _literal_at(template: RouteTemplate, index: int) -> str | None:
    return template.segments[index].literal if index < len(template.segments) else None


def _segment_choices(segment: RouteSegment, other_literal: str | None) -> list[str]:
    if segment.literal is not None:
        return [segment.literal]
    if segment.parameter is not None:
        candidates = [other_literal] if other_literal else []
        candidates += _parameter_samples(segment.parameter)
        return [value for value in dict.fromkeys(candidates) if segment.parameter.accepts(value)]
    pieces = []
    for part in segment.parts:
        samples = [part] if isinstance(part, str) else _parameter_samples(part)
        if not samples:
            return []
        pieces.append(samples[0])
    return ["".join(pieces)]


def _parameter_samples(parameter: RouteParameter) -> list[str]:
    own = [sample for constraint in parameter.constraints for sample in constraint.samples]
    return [value for value in dict.fromkeys([*own, *SAMPLE_VALUES]) if parameter.accepts(value)]


class RouteTable:
    """Finds the function serving a request path, under the host's route prefix."""

    def __init__(self, routes: Sequence[HttpRoute], route_prefix: str) -> None:
        self.routes = list(routes)
        self.route_prefix = route_prefix.strip("/")
        self._prefix = [segment.casefold() for segment in self.route_prefix.split("/") if segment]

    def match(self, method: str, path: Sequence[str]) -> RouteMatch | None:
        """The route serving this method and path (decoded segments), if any."""
        relative = self._relative(path)
        if relative is None:
            return None
        for route in self.routes:
            if method.upper() not in route.methods:
                continue
            params = route.template.match(relative)
            if params is not None:
                return RouteMatch(route, params)
        return None

    def methods_at(self, path: Sequence[str]) -> frozenset[str]:
        """Every method some route serves at this path (empty for an unknown path)."""
        relative = self._relative(path)
        if relative is None:
            return frozenset()
        return frozenset().union(
            *(route.methods for route in self.routes if route.template.match(relative) is not None)
        )

    def url_path(self, route_path: str) -> str:
        """A path relative to the route prefix as a client writes it, prefix included."""
        return "/" + "/".join(part for part in (self.route_prefix, route_path) if part)

    def _relative(self, path: Sequence[str]) -> Sequence[str] | None:
        head = [segment.casefold() for segment in path[: len(self._prefix)]]
        return path[len(self._prefix) :] if head == self._prefix else None
