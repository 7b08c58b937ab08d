"""What every trigger runner offers the host, and the runner for triggers not served yet."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import azure.functions as func

from devhost.indexing import function_name, trigger_binding

logger = logging.getLogger(__name__)


class HostStartupError(Exception):
    """The host cannot start; the message says why."""


@dataclass(frozen=True)
class HostOptions:
    """Where and how the local host serves the app."""

    host: str
    port: int
    route_prefix: str


class TriggerRunner(Protocol):
    """Serves every function of one trigger type (HTTP server, blob watcher...)."""

    def describe(self) -> list[str]:
        """One banner line per function."""
        ...

    def start(self) -> None:
        """Begin serving; raise HostStartupError when that is impossible."""
        ...

    def stop(self) -> None:
        """Stop serving and release what start() acquired."""
        ...


RunnerFactory = Callable[[Sequence[func.Function], HostOptions], TriggerRunner]


class UnservedTriggerRunner:
    """Lists functions whose trigger type the local host does not run yet."""

    def __init__(self, trigger_type: str, functions: Sequence[func.Function]) -> None:
        self.trigger_type = trigger_type
        self.names = [function_name(function) for function in functions]

    def describe(self) -> list[str]:
        """Name each function and say that nothing will invoke it."""
        return [
            f"{name}: {self.trigger_type} (not served by the local host yet)" for name in self.names
        ]

    def start(self) -> None:
        """Log which functions will not run."""
        logger.warning(
            "%s functions are not served by the local host yet: %s",
            self.trigger_type,
            ", ".join(self.names),
        )

    def stop(self) -> None:
        """Nothing was started."""


def build_runners(
    functions: Sequence[func.Function],
    options: HostOptions,
    registry: dict[str, RunnerFactory],
) -> list[TriggerRunner]:
    """One runner per trigger type, from the registry or an UnservedTriggerRunner."""
    by_type: dict[str, list[func.Function]] = {}
    for function in functions:
        by_type.setdefault(trigger_binding(function)["type"], []).append(function)
    runners: list[TriggerRunner] = []
    for trigger_type, group in by_type.items():
        factory = registry.get(trigger_type)
        runners.append(
            factory(group, options) if factory else UnservedTriggerRunner(trigger_type, group)
        )
    return runners
