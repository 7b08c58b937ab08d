"""What the app sends to the database: counted and recorded at the driver boundary.

On MongoDB (TEST_DATABASE_URL) a pymongo CommandListener sees every command; on the
embedded database the proxy in shared.db.embedded reports every call that would be a
round trip to a server (a cursor counts when it is first read).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pymongo import monitoring

from shared.db import embedded
from tests.conftest import TEST_DATABASE_URL

EMBEDDED = TEST_DATABASE_URL.startswith("mongomock://")


@dataclass
class Calls:
    """The calls made while armed: ``"<command> <collection>"`` labels, in order.

    On MongoDB ``commands`` also keeps each command (name and document) as sent.
    """

    labels: list[str] = field(default_factory=list)
    commands: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class _Listener(monitoring.CommandListener):
    def __init__(self) -> None:
        self.target: Calls | None = None

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.target is not None:
            collection = event.command.get(event.command_name, "")
            self.target.labels.append(f"{event.command_name} {collection}")
            self.target.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Only starts are counted."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Only starts are counted."""


_listener: _Listener | None = None


def install_listener() -> None:
    """Register the command listener once; clients created afterwards report to it."""
    global _listener
    if not EMBEDDED and _listener is None:
        _listener = _Listener()
        monitoring.register(_listener)


@contextmanager
def database_calls() -> Iterator[Calls]:
    """Record every database round trip the block makes."""
    calls = Calls()
    if EMBEDDED:

        def observe(command: embedded.Command) -> None:
            calls.labels.append(f"{command.name} {command.collection}")

        embedded.observers.append(observe)
        try:
            yield calls
        finally:
            embedded.observers.remove(observe)
        return
    if _listener is None:
        raise RuntimeError("call install_listener() before the app's MongoClient is created")
    _listener.target = calls
    try:
        yield calls
    finally:
        _listener.target = None


# --- query shapes: which fields a query bounds, and how it sorts ----------------------

_RANGE = {"$lt", "$lte", "$gt", "$gte"}
_POINTS = {"$eq", "$in"}
_QUERY_METHODS = {
    "find",
    "find_one",
    "find_one_and_update",
    "find_one_and_delete",
    "find_one_and_replace",
    "update_one",
    "update_many",
    "replace_one",
    "delete_one",
    "delete_many",
    "count_documents",
    "aggregate",
    "distinct",
}


@dataclass(frozen=True)
class QueryShape:
    """A query as an index sees it: equality and range fields, the rest, and the sort."""

    collection: str
    points: frozenset[str]
    ranges: frozenset[str]
    others: frozenset[str]
    sort: tuple[tuple[str, int], ...] = ()

    def __str__(self) -> str:
        parts = [*sorted(self.points), *(f"{f}~" for f in sorted(self.ranges))]
        parts += [f"{f}?" for f in sorted(self.others)]
        sort = ",".join(f"{f}{'+' if d > 0 else '-'}" for f, d in self.sort)
        return f"{self.collection}: {' '.join(parts) or '-'}" + (f" | sort {sort}" if sort else "")

    def served_by(self, keys: list[tuple[str, int]]) -> bool:
        """Whether an index on ``keys`` gives a bounded scan (or the order) with no sort stage.

        As MongoDB plans it: the first key must be bounded by the filter (or the
        filter be empty and the index give the sort); a sort is free when its keys
        follow a prefix of equality (or $in) fields, in index order or reversed.
        """
        names = [name for name, _ in keys]
        bounded = names[0] in self.points | self.ranges
        if not self.sort:
            return bounded
        if not bounded and (self.points or self.ranges):
            return False
        start = 0
        while start < len(names) and names[start] in self.points:
            if self.sort[0][0] == names[start]:
                break
            start += 1
        window = keys[start : start + len(self.sort)]
        if [name for name, _ in window] != [name for name, _ in self.sort]:
            return False
        same = all(d == s for (_, d), (_, s) in zip(window, self.sort, strict=True))
        reversed_ = all(d == -s for (_, d), (_, s) in zip(window, self.sort, strict=True))
        return same or reversed_


def shape_of(command: embedded.Command) -> QueryShape | None:
    """The shape of a recorded embedded-database call, or None when it is not a query."""
    if command.name not in _QUERY_METHODS:
        return None
    if command.name == "aggregate":
        pipeline = command.args[0] if command.args else command.kwargs["pipeline"]
        first = pipeline[0] if pipeline else {}
        query = first.get("$match", {})
    else:
        query = command.args[0] if command.args else command.kwargs.get("filter", {})
    points: set[str] = set()
    ranges: set[str] = set()
    others: set[str] = set()
    _collect(query or {}, points, ranges, others)
    sort = command.sort or ()
    if not sort and command.kwargs.get("sort"):
        sort = (command.kwargs["sort"],)
    return QueryShape(
        command.collection,
        frozenset(points),
        frozenset(ranges - points),
        frozenset(others - points - ranges),
        _sort_keys(sort),
    )


def _collect(
    query: dict[str, object], points: set[str], ranges: set[str], others: set[str]
) -> None:
    for field_name, condition in query.items():
        if field_name == "$and":
            for clause in condition:  # type: ignore[attr-defined]
                _collect(clause, points, ranges, others)
        elif field_name.startswith("$"):  # $or and the like: checked after fetching
            others.add(field_name)
        elif isinstance(condition, dict) and any(op.startswith("$") for op in condition):
            operators = set(condition)
            if operators & _POINTS:
                points.add(field_name)
            elif operators & _RANGE or _anchored(condition.get("$regex")):
                ranges.add(field_name)
            else:
                others.add(field_name)
        else:
            points.add(field_name)


def _anchored(pattern: object) -> bool:
    return isinstance(pattern, str) and pattern.startswith("^")


def _sort_keys(sort: object) -> tuple[tuple[str, int], ...]:
    """pymongo's sort arguments (a key and direction, or a list of pairs) as pairs."""
    if not sort:
        return ()
    args = tuple(sort)  # type: ignore[arg-type]
    if len(args) == 2 and isinstance(args[0], str):
        return ((args[0], int(args[1])),)
    if len(args) == 1 and isinstance(args[0], list | tuple):
        inner = args[0]
        if len(inner) == 2 and isinstance(inner[0], str):
            return ((inner[0], int(inner[1])),)
        return tuple((str(f), int(d)) for f, d in inner)
    return tuple((str(f), int(d)) for f, d in args)  # type: ignore[misc]
