"""The Azure Functions host's own checks on HTTP functions, ported so the local host refuses
what Azure would refuse.

Read from azure-functions-host 4.1037 (src/WebJobs.Script/Host/ScriptHost.cs:
``ValidateFunction``, ``ValidateHttpFunction``, ``HttpRoutesConflict``). The host takes the
functions in name order; for each HTTP function it
- uses the function name as the route when none is given;
- refuses a route that, trimmed of '/' and lower-cased, starts with ``admin`` or
  ``runtime`` ("conflicts with one or more built in routes");
- refuses a route equal to an earlier function's (trimmed of '/', case-insensitive) when
  their method lists intersect, an empty list meaning every method ("The route specified
  conflicts with the route defined by function 'X'");
- refuses a name already taken ("must be unique within the function app").
Azure logs the error and serves the other functions; the local host refuses to start, so
the mistake is seen before a deployment hides it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

RESERVED_ROUTE_PREFIXES = ("admin", "runtime")


@dataclass(frozen=True)
class HttpFunctionSpec:
    """What the host reads of an HTTP function: its name, route and methods."""

    name: str
    route: str | None
    methods: Sequence[str] | None  # None or empty: every method


@dataclass(frozen=True)
class HostRefusal:
    """A function the Azure host would not load, and why (in the host's words)."""

    function_name: str
    reason: str


def refusals(functions: Iterable[HttpFunctionSpec]) -> list[HostRefusal]:
    """Every HTTP function the host would refuse, in the order the host meets them."""
    accepted: list[HttpFunctionSpec] = []
    refused: list[HostRefusal] = []
    for function in sorted(functions, key=lambda f: f.name.casefold()):
        route = function.route if function.route and function.route.strip() else function.name
        current = HttpFunctionSpec(function.name, route, function.methods)
        reason = _reason_to_refuse(current, accepted)
        if reason is None:
            accepted.append(current)
        else:
            refused.append(HostRefusal(function.name, reason))
    return refused


def _reason_to_refuse(
    function: HttpFunctionSpec, accepted: Sequence[HttpFunctionSpec]
) -> str | None:
    route = (function.route or "").strip("/").lower()
    if route.startswith(RESERVED_ROUTE_PREFIXES):
        return (
            f"The specified route {function.route!r} conflicts with one or more built in "
            f"routes (routes beginning with {' or '.join(RESERVED_ROUTE_PREFIXES)} are reserved)"
        )
    for other in accepted:
        if routes_conflict(function, other):
            return (
                f"The route specified ({function.route!r}) conflicts with the route defined by "
                f"function '{other.name}' ({other.route!r}); give each route template one "
                "function whose methods are the union of its operations'"
            )
    if any(other.name.casefold() == function.name.casefold() for other in accepted):
        return f"The function name '{function.name}' must be unique within the function app"
    return None


def routes_conflict(first: HttpFunctionSpec, second: HttpFunctionSpec) -> bool:
    """The host's HttpRoutesConflict: equal templates and intersecting methods."""
    if (first.route or "").strip("/").casefold() != (second.route or "").strip("/").casefold():
        return False
    if not first.methods or not second.methods:
        return True  # an empty list means every method
    return bool({m.upper() for m in first.methods} & {m.upper() for m in second.methods})
