"""Every HTTP operation the pipeline wraps, recorded for CORS preflights and OpenAPI."""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from shared.identity import Role

if TYPE_CHECKING:
    from pydantic import BaseModel

# A schema named "module.Class" under shared.schemas (resolved on first use), or the class.
# Blueprints use names so that indexing the app does not build pydantic models: defining
# the first model class costs about as much as the rest of the cold start above baseline.


class RateLimit(StrEnum):
    """Which bucket a route draws from (signed-in callers always use their own)."""

    NONE = "none"  # probes and docs must answer even when the database is down
    ANONYMOUS = "anonymous"  # per client IP, RATE_LIMIT_ANON_PER_MINUTE
    AUTH = "auth"  # per client IP on credential routes, RATE_LIMIT_AUTH_PER_MINUTE


@dataclass(frozen=True)
class Operation:
    name: str
    route: str
    method: str
    summary: str
    description: str
    tags: tuple[str, ...]
    status: int
    role: Role | None
    rate_limit: RateLimit
    body_ref: type[BaseModel] | str | None
    body_optional: bool
    query_ref: type[BaseModel] | str | None
    response_ref: type[BaseModel] | str | None
    errors: tuple[int, ...]
    content_type: str
    documented: bool = True  # False keeps development-only routes out of the OpenAPI document

    @property
    def body(self) -> type[BaseModel] | None:
        return resolve_model(self.body_ref)

    @property
    def query(self) -> type[BaseModel] | None:
        return resolve_model(self.query_ref)

    @property
    def response(self) -> type[BaseModel] | None:
        return resolve_model(self.response_ref)

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


def resolve_model(ref: type[BaseModel] | str | None) -> type[BaseModel] | None:
    """The model class a reference names ("auth.UserRegister" → shared.schemas.auth)."""
    if ref is None or not isinstance(ref, str):
        return ref
    return _import_model(ref)


@functools.cache
def _import_model(ref: str) -> type[BaseModel]:
    module_name, _, class_name = ref.rpartition(".")
    model: type[BaseModel] = getattr(
        importlib.import_module(f"shared.schemas.{module_name}"), class_name
    )
    return model


# {name}, {name?} or {name:constraint}; a constraint may hold doubled braces.
_PARAMETER = re.compile(r"\{\*?([A-Za-z_][A-Za-z0-9_]*)\??(?::((?:[^{}]|\{\{|\}\})*))?\}")

OPERATIONS: list[Operation] = []
_methods_by_route: dict[str, list[str]] = {}


def register(operation: Operation) -> None:
    """Record an operation; names must be unique, like Azure function names."""
    if any(op.name == operation.name for op in OPERATIONS):
        raise ValueError(f"duplicate function name {operation.name!r}")
    OPERATIONS.append(operation)
    _methods_by_route.setdefault(operation.route, []).append(operation.method)


def methods_for(route: str) -> list[str]:
    """Methods served on a route template, for the preflight's Allow-Methods."""
    return _methods_by_route.get(route, [])
