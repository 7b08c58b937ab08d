"""Azure Functions route templates (ASP.NET Core syntax): parsing and matching.

Supported: literal segments (matched case-insensitively), `{name}`, `{name?}`,
`{name=default}`, catch-all `{*rest}`, inline constraints `{id:int:min(1)}`, complex
segments such as `{name}.{ext?}`, and `{{` / `}}` for a literal brace (which is how a
brace inside a regex constraint is written).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

from devhost.route_constraints import RouteConstraint, RouteTemplateError, parse_constraint

_NAME_STOP = frozenset(":=?")
_FORBIDDEN_NAME_CHARS = frozenset("{}/*?=:")


@dataclass(frozen=True)
class RouteParameter:
    """A `{...}` placeholder in a template."""

    name: str
    constraints: tuple[RouteConstraint, ...] = ()
    optional: bool = False
    default: str | None = None
    catch_all: bool = False

    @property
    def omittable(self) -> bool:
        """Whether a path may leave this parameter out."""
        return self.optional or self.catch_all or self.default is not None

    def accepts(self, value: str) -> bool:
        """Whether every inline constraint accepts the value."""
        return all(constraint.accepts(value) for constraint in self.constraints)


Part = str | RouteParameter


@dataclass(frozen=True)
class RouteSegment:
    """One `/`-separated piece of a template: literal text and parameters."""

    parts: tuple[Part, ...]

    @property
    def literal(self) -> str | None:
        """The text of a segment that is a single literal."""
        only = self.parts[0] if len(self.parts) == 1 else None
        return only if isinstance(only, str) else None

    @property
    def parameter(self) -> RouteParameter | None:
        """The parameter of a segment that is a single parameter."""
        only = self.parts[0] if len(self.parts) == 1 else None
        return only if isinstance(only, RouteParameter) else None

    @property
    def omittable(self) -> bool:
        """Whether a path may end before this segment."""
        return self.parameter is not None and self.parameter.omittable

    def match(self, value: str) -> dict[str, str] | None:
        """Route values captured from one path segment, or None when it does not match."""
        if self.literal is not None:
            return {} if value.casefold() == self.literal.casefold() else None
        if self.parameter is not None:
            accepted = value != "" and self.parameter.accepts(value)
            return {self.parameter.name: value} if accepted else None
        return self._match_complex(value)

    @cached_property
    def _complex_pattern(self) -> re.Pattern[str]:
        return _complex_pattern(self.parts)

    def _match_complex(self, value: str) -> dict[str, str] | None:
        found = self._complex_pattern.fullmatch(value)
        if found is None:
            return None
        values: dict[str, str] = {}
        parameters = [part for part in self.parts if isinstance(part, RouteParameter)]
        for index, parameter in enumerate(parameters):
            captured = found.group(f"p{index}")
            if captured is None:
                continue
            if not parameter.accepts(captured):
                return None
            values[parameter.name] = captured
        return values


@dataclass(frozen=True)
class RouteTemplate:
    """A parsed route template."""

    text: str
    segments: tuple[RouteSegment, ...]

    @property
    def parameters(self) -> list[RouteParameter]:
        """Every parameter, in template order."""
        return [
            part
            for segment in self.segments
            for part in segment.parts
            if isinstance(part, RouteParameter)
        ]

    def match(self, path: Sequence[str]) -> dict[str, str] | None:
        """Route values for a path given as decoded segments, or None when it does not match."""
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            parameter = segment.parameter
            if parameter is not None and parameter.catch_all:
                rest = "/".join(path[index:])
                if rest and not parameter.accepts(rest):
                    return None
                return _with_default(values, parameter, rest or None)
            if index >= len(path):
                return self._match_omitted_tail(values, index)
            captured = segment.match(path[index])
            if captured is None:
                return None
            values.update(captured)
        return values if len(path) == len(self.segments) else None

    def _match_omitted_tail(self, values: dict[str, str], start: int) -> dict[str, str] | None:
        tail = self.segments[start:]
        if not all(segment.omittable for segment in tail):
            return None
        for segment in tail:
            if segment.parameter is not None:
                values = _with_default(values, segment.parameter, None)
        return values


def _with_default(
    values: dict[str, str], parameter: RouteParameter, value: str | None
) -> dict[str, str]:
    chosen = value if value is not None else parameter.default
    return values if chosen is None else {**values, parameter.name: chosen}


def _complex_pattern(parts: Sequence[Part]) -> re.Pattern[str]:
    # Greedy groups reproduce ASP.NET's right-to-left matching of complex segments
    # (`{a}-{b}` on "x-y-z" gives a="x-y"). An optional last parameter takes its
    # preceding period with it, so "file" and "file.txt" both match `{name}.{ext?}`;
    # the groups before it turn lazy so that the extension gets its share.
    last = parts[-1]
    optional_tail = isinstance(last, RouteParameter) and last.optional
    required = "(?P<p{}>.+?)" if optional_tail else "(?P<p{}>.+)"
    pieces: list[str] = []
    group = 0
    for position, part in enumerate(parts):
        if isinstance(part, str):
            before_tail = optional_tail and position == len(parts) - 2
            pieces.append(re.escape(part[:-1] if before_tail else part))
            continue
        pieces.append(rf"(?:\.(?P<p{group}>[^.]+))?" if part.optional else required.format(group))
        group += 1
    return re.compile("".join(pieces), re.IGNORECASE | re.DOTALL)


def parse_template(template: str) -> RouteTemplate:
    """Parse a route template, raising RouteTemplateError where Azure would refuse it."""
    text = template.strip("/")
    segments = tuple(RouteSegment(tuple(parts)) for parts in _split_segments(text, template))
    names = [parameter.name.casefold() for parameter in RouteTemplate(text, segments).parameters]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RouteTemplateError(f"route {template!r} repeats parameter {duplicates[0]!r}")
    for position, segment in enumerate(segments):
        _validate_segment(segment, template, is_last=position == len(segments) - 1)
    return RouteTemplate(text, segments)


def _split_segments(text: str, template: str) -> list[list[Part]]:
    segments: list[list[Part]] = [[]]
    literal: list[str] = []

    def flush_literal() -> None:
        if literal:
            segments[-1].append("".join(literal))
            literal.clear()

    index = 0
    while index < len(text):
        char = text[index]
        if text.startswith(("{{", "}}"), index):
            literal.append(char)
            index += 2
        elif char == "{":
            flush_literal()
            body, index = _read_parameter_body(text, index + 1, template)
            segments[-1].append(_parse_parameter(body, template))
        elif char == "}":
            raise RouteTemplateError(f"route {template!r} has an unmatched '}}'")
        elif char == "/":
            flush_literal()
            segments.append([])
            index += 1
        else:
            literal.append(char)
            index += 1
    flush_literal()
    if text and any(not parts for parts in segments):
        raise RouteTemplateError(f"route {template!r} has an empty segment ('//')")
    return segments if text else []


def _read_parameter_body(text: str, start: int, template: str) -> tuple[str, int]:
    body: list[str] = []
    index = start
    while index < len(text):
        if text.startswith(("{{", "}}"), index):
            body.append(text[index])
            index += 2
        elif text[index] == "}":
            return "".join(body), index + 1
        elif text[index] == "{":
            raise RouteTemplateError(f"route {template!r} has a '{{' inside a parameter")
        else:
            body.append(text[index])
            index += 1
    raise RouteTemplateError(f"route {template!r} has an unclosed '{{'")


def _parse_parameter(body: str, template: str) -> RouteParameter:
    catch_all = body.startswith("*")
    rest = body.lstrip("*") if catch_all else body
    name_end = next((i for i, char in enumerate(rest) if char in _NAME_STOP), len(rest))
    name, rest = rest[:name_end], rest[name_end:]
    if not name or any(char in _FORBIDDEN_NAME_CHARS for char in name):
        raise RouteTemplateError(f"route {template!r} has an invalid parameter {{{body}}}")
    constraints: list[RouteConstraint] = []
    while rest.startswith(":"):
        constraint_text, rest = _take_constraint(rest[1:])
        constraints.append(parse_constraint(constraint_text))
    optional = rest == "?"
    default = rest[1:] if rest.startswith("=") else None
    if rest and not optional and default is None:
        raise RouteTemplateError(f"route {template!r} has an invalid parameter {{{body}}}")
    if catch_all and optional:
        raise RouteTemplateError(f"route {template!r}: a catch-all parameter cannot be optional")
    return RouteParameter(name, tuple(constraints), optional, default, catch_all)


def _take_constraint(text: str) -> tuple[str, str]:
    """Split `name(args)...rest` after one constraint; `)` closes only before `:`, `=`, `?`."""
    index = 0
    while index < len(text) and text[index] not in "(:=?":
        index += 1
    if index == len(text) or text[index] != "(":
        return text[:index], text[index:]
    for close in range(index + 1, len(text)):
        if text[close] != ")":
            continue
        after = text[close + 1 :]
        if after == "" or after[0] in ":=" or after == "?":
            return text[: close + 1], after
    raise RouteTemplateError(f"route constraint {text!r} has an unclosed '('")


def _validate_segment(segment: RouteSegment, template: str, *, is_last: bool) -> None:
    parts = segment.parts
    parameters = [part for part in parts if isinstance(part, RouteParameter)]
    if any(parameter.catch_all for parameter in parameters) and (len(parts) > 1 or not is_last):
        raise RouteTemplateError(f"route {template!r}: a catch-all must be the whole last segment")
    if len(parts) == 1:
        return
    for first, second in pairwise(parts):
        if isinstance(first, RouteParameter) and isinstance(second, RouteParameter):
            raise RouteTemplateError(f"route {template!r} has two parameters with no text between")
    for position, part in enumerate(parts):
        if not isinstance(part, RouteParameter) or not (part.optional or part.default):
            continue
        previous = parts[position - 1] if position else None
        if position != len(parts) - 1 or not (
            isinstance(previous, str) and previous.endswith(".") and part.optional
        ):
            raise RouteTemplateError(
                f"route {template!r}: an optional parameter inside a segment must come last,"
                " after a period"
            )


__all__ = [
    "Part",
    "RouteParameter",
    "RouteSegment",
    "RouteTemplate",
    "RouteTemplateError",
    "parse_template",
]
