"""Every HTTP operation the pipeline serves, recorded for dispatch, preflights and OpenAPI.

An operation's schemas are stated once, in its handler's annotations
(``def register(request: ApiRequest, body: UserRegister) -> UserPublic``), so the type
checker sees them. Blueprints import schema classes only under ``TYPE_CHECKING``: the
annotations stay strings until the operation is first used, and indexing the app builds
no pydantic model (defining the first model class costs about as much as the rest of the
cold start above the essential libraries; bench/bench_cold_start.py measures it).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.identity import Role

if TYPE_CHECKING:
    from pydantic import BaseModel

SCHEMAS_PACKAGE = "shared.schemas"


class RateLimit(StrEnum):
    """Which bucket a route draws from (signed-in callers always use their own)."""

    NONE = "none"  # probes and docs must answer even when the database is down
    ANONYMOUS = "anonymous"  # per client IP, RATE_LIMIT_ANON_PER_MINUTE
    AUTH = "auth"  # per client IP on credential routes, RATE_LIMIT_AUTH_PER_MINUTE


@dataclass(frozen=True)
class Contract:
    """What an operation takes and returns, read from its handler's annotations."""

    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None


@dataclass(frozen=True)
class Operation:
    """One method on one route template: the unit of validation, roles and OpenAPI."""

    name: str  # the OpenAPI operationId
    route: str
    method: str
    summary: str
    description: str
    tags: tuple[str, ...]
    status: int
    min_role: Role | None  # None: anonymous callers allowed; GUEST: any signed-in account
    rate_limit: RateLimit
    body_optional: bool
    errors: tuple[int, ...]
    content_type: str
    handler: Callable[..., Any] = field(repr=False, compare=False)
    documented: bool = True  # False keeps development-only routes out of the OpenAPI document

    # Read on every request; the handler never changes, so each is worked out once.
    @functools.cached_property
    def takes_body(self) -> bool:
        return "body" in _parameter_names(self.handler)

    @functools.cached_property
    def takes_query(self) -> bool:
        return "query" in _parameter_names(self.handler)

    @property
    def contract(self) -> Contract:
        """The body, query and response models (resolved on first use, then cached)."""
        return _contract(self.handler)

    @property
    def body(self) -> type[BaseModel] | None:
        return self.contract.body

    @property
    def query(self) -> type[BaseModel] | None:
        return self.contract.query

    @property
    def response(self) -> type[BaseModel] | None:
        return self.contract.response

    @property
    def path(self) -> str:
        """The OpenAPI path: prefix added, constraints dropped from parameters."""
        return "/api/" + _PARAMETER.sub(lambda m: "{" + m.group(1) + "}", self.route)

    @property
    def path_parameters(self) -> dict[str, str | None]:
        """Parameter name → regex constraint (None when unconstrained)."""
        found: dict[str, str | None] = {}
        for match in _PARAMETER.finditer(self.route):
            constraint = match.group(2) or ""
            regex = re.fullmatch(r"regex\((.*)\)", constraint)
            found[match.group(1)] = (
                regex.group(1).replace("{{", "{").replace("}}", "}") if regex else None
            )
        return found


def _parameter_names(handler: Callable[..., Any]) -> tuple[str, ...]:
    code = handler.__code__
    return code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]


@functools.cache
def _contract(handler: Callable[..., Any]) -> Contract:
    hints = typing.get_type_hints(handler, localns=_SchemaNamespace(handler))
    return Contract(
        body=_model_in(hints.get("body")),
        query=_model_in(hints.get("query")),
        response=_model_in(hints.get("return")),
    )


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation names: `M`, `ApiResponse[M]`; None for the rest."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and hasattr(candidate, "model_validate_json"):
            return candidate
    return None


class _SchemaNamespace(Mapping[str, Any]):
    """Names for evaluating a handler's annotations: its module, then shared.schemas.

    Schema modules are searched lazily, the blueprint's namesake first, so resolving one
    operation imports only the schema modules it needs.
    """

    def __init__(self, handler: Callable[..., Any]) -> None:
        self._module_globals: dict[str, Any] = handler.__globals__
        area = handler.__module__.rpartition(".")[2]
        self._modules = [area, *(m for m in _schema_module_names() if m != area)]

    def __getitem__(self, name: str) -> Any:
        if name in self._module_globals:
            return self._module_globals[name]
        for module_name in self._modules:
            try:
                module = importlib.import_module(f"{SCHEMAS_PACKAGE}.{module_name}")
            except ModuleNotFoundError:
                continue
            if name in vars(module):
                return vars(module)[name]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._module_globals)

    def __len__(self) -> int:
        return len(self._module_globals)


@functools.cache
def _schema_module_names() -> tuple[str, ...]:
    package = importlib.import_module(SCHEMAS_PACKAGE)
    return tuple(info.name for info in pkgutil.iter_modules(package.__path__))


# {name}, {name?} or {name:constraint}; a constraint may hold doubled braces.
_PARAMETER = re.compile(r"\{\*?([A-Za-z_][A-Za-z0-9_]*)\??(?::((?:[^{}]|\{\{|\}\})*))?\}")

OPERATIONS: list[Operation] = []


def register(operation: Operation) -> None:
    """Record an operation; operationIds and (route, method) pairs must be unique."""
    for known in OPERATIONS:
        if known.name == operation.name:
            raise ValueError(f"duplicate operation name {operation.name!r}")
        if same_template(known.route, operation.route) and known.method == operation.method:
            raise ValueError(
                f"{operation.name!r} and {known.name!r} both serve {operation.method} "
                f"{operation.route!r}"
            )
    OPERATIONS.append(operation)


def same_template(first: str, second: str) -> bool:
    """The Functions host's template equality: trimmed of '/', compared case-insensitively."""
    return first.strip("/").casefold() == second.strip("/").casefold()


def function_name_for(route: str) -> str:
    """The HTTP function serving a template: `v1/users/{user_id}` → `users_item`.

    The version prefix v1 is left out; parameters read as `item`; every other character
    that a function name cannot hold becomes `_` (names must match ^[A-Za-z][\\w-]*$).
    """
    path = route.strip("/").removeprefix("v1/")
    words = [
        "item" if segment.startswith("{") else re.sub(r"[^A-Za-z0-9]+", "_", segment)
        for segment in path.split("/")
        if segment
    ]
    return "_".join(word.strip("_") for word in words) or "root"


def methods_for(route: str) -> list[str]:
    """Methods served on a route template, in registration order."""
    return [op.method for op in OPERATIONS if same_template(op.route, route)]
