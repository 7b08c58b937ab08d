"""The embedded in-memory database (mongomock), made safe for a threaded local host.

mongomock does not lock: two threads running find_one_and_update on one document can
both read the old value, which would break the atomic steps the app relies on (rate
counters, refresh-token rotation, single-use codes). Every call goes through one lock
here, which is what a real server guarantees per document.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

_lock = threading.RLock()


@dataclass(frozen=True)
class Command:
    """One call that would be one round trip to a server: what and with which filter/sort."""

    collection: str
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    sort: Any = None


# Test and bench hooks (round-trip counting, index coverage); empty in normal runs.
observers: list[Callable[[Command], None]] = []


def _notify(command: Command) -> None:
    for observer in observers:
        observer(command)


class _Locked:
    """Proxy that runs every method of the wrapped object under the process-wide lock."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute
        wrapped = _locked_call(attribute)
        setattr(self, name, wrapped)  # later lookups skip __getattr__ entirely
        return wrapped

    def __getitem__(self, name: str) -> Any:
        return self._wrap_child(self._target[name])

    def _wrap_child(self, child: Any) -> Any:
        return child

    def __eq__(self, other: object) -> bool:
        target = other._target if isinstance(other, _Locked) else other
        return bool(self._target == target)

    def __hash__(self) -> int:
        return hash(self._target)


def _locked_call(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            result = method(*args, **kwargs)
            # Aggregation cursors are lazy; read them while the lock is held.
            return list(result) if type(result).__name__ == "CommandCursor" else result

    return call


class LockedCollection(_Locked):
    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute) or name.startswith("_"):
            return attribute
        locked = _locked_call(attribute)
        collection = str(self._target.name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if observers:
                _notify(Command(collection, name, args, kwargs))
            return locked(*args, **kwargs)

        setattr(self, name, call)  # later lookups skip __getattr__ entirely
        return call

    def find(self, *args: Any, **kwargs: Any) -> Any:
        # find() returns a cursor the caller refines (sort, limit) before reading it.
        command = Command(str(self._target.name), "find", args, kwargs)
        return _LockedCursor(self._target.find(*args, **kwargs), command)


class _LockedCursor:
    def __init__(self, cursor: Any, command: Command) -> None:
        self._cursor = cursor
        self._command = command

    def sort(self, *args: Any, **kwargs: Any) -> _LockedCursor:
        self._cursor = self._cursor.sort(*args, **kwargs)
        self._command = replace(self._command, sort=args)
        return self

    def limit(self, count: int) -> _LockedCursor:
        self._cursor = self._cursor.limit(count)
        return self

    def __iter__(self) -> Any:
        if observers:  # the query reaches the server when the cursor is first read
            _notify(self._command)
        with _lock:
            return iter(list(self._cursor))


class LockedDatabase(_Locked):
    def _wrap_child(self, child: Any) -> Any:
        return LockedCollection(child)

    def get_collection(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return LockedCollection(self._target.get_collection(name, *args, **kwargs))

    @property
    def client(self) -> Any:
        return LockedClient(self._target.client)


class LockedClient(_Locked):
    def _wrap_child(self, child: Any) -> Any:
        return LockedDatabase(child)

    def get_database(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return LockedDatabase(self._target.get_database(name, *args, **kwargs))


def embedded_client() -> Any:
    """A thread-safe in-memory client with timezone-aware datetimes, like the real one."""
    import mongomock

    return LockedClient(mongomock.MongoClient(tz_aware=True))
