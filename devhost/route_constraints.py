"""Inline route constraints (`{id:int}`) with the meaning ASP.NET Core gives them.

The Azure Functions host routes with ASP.NET Core, so these follow its built-in
constraint map: names are case-insensitive, `regex(...)` is an unanchored,
case-insensitive search, and numeric constraints parse invariant-culture integers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


class RouteTemplateError(ValueError):
    """A route template the Azure Functions host would reject."""


@dataclass(frozen=True)
class RouteConstraint:
    """One inline constraint: what it accepts, and values it accepts (to probe overlaps)."""

    text: str
    accepts: Callable[[str], bool]
    samples: tuple[str, ...] = ()


_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ALPHA = re.compile(r"[a-z]*", re.IGNORECASE)
_CALL = re.compile(r"(?P<name>[^(]+)(?:\((?P<args>.*)\))?", re.DOTALL)

_Factory = Callable[[str, list[str]], RouteConstraint]


def _integer(value: str, bits: int = 64) -> int | None:
    if not _INTEGER.fullmatch(value):
        return None
    number = int(value)
    limit = 2 ** (bits - 1)
    return number if -limit <= number < limit else None


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _numbers(text: str, args: list[str], count: int) -> list[int]:
    numbers = [_integer(arg.strip()) for arg in args]
    if len(numbers) != count or any(number is None for number in numbers):
        raise RouteTemplateError(f"route constraint {text!r} needs {count} integer argument(s)")
    return [number for number in numbers if number is not None]


def _no_arguments(accepts: Callable[[str], bool], *samples: str) -> _Factory:
    def factory(text: str, args: list[str]) -> RouteConstraint:
        if args:
            raise RouteTemplateError(f"route constraint {text!r} takes no arguments")
        return RouteConstraint(text, accepts, samples)

    return factory


def _bounded_integer(text: str, low: int | None, high: int | None) -> RouteConstraint:
    def accepts(value: str) -> bool:
        number = _integer(value)
        return (
            number is not None
            and (low is None or number >= low)
            and (high is None or number <= high)
        )

    sample = low if low is not None else high
    return RouteConstraint(text, accepts, (str(sample),))


def _min(text: str, args: list[str]) -> RouteConstraint:
    return _bounded_integer(text, _numbers(text, args, 1)[0], None)


def _max(text: str, args: list[str]) -> RouteConstraint:
    return _bounded_integer(text, None, _numbers(text, args, 1)[0])


def _range(text: str, args: list[str]) -> RouteConstraint:
    low, high = _numbers(text, args, 2)
    return _bounded_integer(text, low, high)


def _bounded_length(text: str, low: int | None, high: int | None) -> RouteConstraint:
    def accepts(value: str) -> bool:
        return (low is None or len(value) >= low) and (high is None or len(value) <= high)

    return RouteConstraint(text, accepts, ("a" * max(low or 1, 1),))


def _length(text: str, args: list[str]) -> RouteConstraint:
    if len(args) == 2:
        low, high = _numbers(text, args, 2)
        return _bounded_length(text, low, high)
    exact = _numbers(text, args, 1)[0]
    return _bounded_length(text, exact, exact)


def _minlength(text: str, args: list[str]) -> RouteConstraint:
    return _bounded_length(text, _numbers(text, args, 1)[0], None)


def _maxlength(text: str, args: list[str]) -> RouteConstraint:
    return _bounded_length(text, None, _numbers(text, args, 1)[0])


def _regex(text: str, args: list[str]) -> RouteConstraint:
    try:
        compiled = re.compile(args[0], re.IGNORECASE)
    except re.error as exc:
        raise RouteTemplateError(f"route constraint {text!r} is not a valid regex: {exc}") from None
    return RouteConstraint(text, lambda value: compiled.search(value) is not None)


_FACTORIES: dict[str, _Factory] = {
    "int": _no_arguments(lambda value: _integer(value, 32) is not None, "1"),
    "long": _no_arguments(lambda value: _integer(value) is not None, "1"),
    "bool": _no_arguments(lambda value: value.lower() in {"true", "false"}, "true"),
    "decimal": _no_arguments(lambda value: _DECIMAL.fullmatch(value) is not None, "1.5"),
    "double": _no_arguments(lambda value: _DECIMAL.fullmatch(value) is not None, "1.5"),
    "float": _no_arguments(lambda value: _DECIMAL.fullmatch(value) is not None, "1.5"),
    "guid": _no_arguments(_is_guid, "3fa85f64-5717-4562-b3fc-2c963f66afa6"),
    "datetime": _no_arguments(_is_datetime, "2024-01-31"),
    "alpha": _no_arguments(lambda value: _ALPHA.fullmatch(value) is not None, "abc"),
    "required": _no_arguments(bool),
    "min": _min,
    "max": _max,
    "range": _range,
    "length": _length,
    "minlength": _minlength,
    "maxlength": _maxlength,
    "regex": _regex,
}


def parse_constraint(text: str) -> RouteConstraint:
    """Build the constraint written as `name` or `name(arguments)` in a template."""
    call = _CALL.fullmatch(text)
    factory = _FACTORIES.get(call["name"].lower()) if call else None
    if call is None or factory is None:
        raise RouteTemplateError(f"unknown route constraint {text!r}")
    args = call["args"]
    if call["name"].lower() == "regex":  # one expression, commas and all
        return factory(text, [args or ""])
    return factory(text, args.split(",") if args else [])
