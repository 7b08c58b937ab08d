"""Load the function app and list its functions, as the Python worker's indexing does."""

from __future__ import annotations

import importlib
import json
import os
import traceback
from pathlib import Path
from typing import Any

import azure.functions as func

DEFAULT_APP = "function_app:app"


class AppLoadError(Exception):
    """The function app could not be imported or indexed."""


def load_functions(spec: str = DEFAULT_APP) -> list[func.Function]:
    """Import `module:attribute` and index its functions (get_functions() runs once)."""
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise AppLoadError(f"cannot import {module_name!r}: {describe_exception(exc)}") from exc
    app = getattr(module, attribute or "app", None)
    if not isinstance(app, func.FunctionRegister):
        raise AppLoadError(f"{spec!r} is not a func.FunctionApp")
    try:
        # azure-functions refuses a second call (it remembers the names it has seen).
        return app.get_functions()
    except Exception as exc:
        raise AppLoadError(f"indexing {spec!r} failed: {describe_exception(exc)}") from exc


def trigger_binding(function: func.Function) -> dict[str, Any]:
    """The trigger's function.json binding: type, name, and e.g. route and methods."""
    trigger = function.get_trigger()
    bindings: list[dict[str, Any]] = json.loads(function.get_function_json())["bindings"]
    for binding in bindings:
        if trigger is not None and binding.get("name") == trigger.name:
            return binding
    raise AppLoadError(f"function {function.get_function_name()!r} has no trigger")


def function_name(function: func.Function) -> str:
    """The name Azure shows for the function."""
    return function.get_function_name() or function.get_user_function().__name__


def describe_exception(exc: BaseException) -> str:
    """`Type: message (file:line)` for the error and each cause, without the full traceback."""
    lines: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(lines) < 5:
        frames = [
            frame
            for frame in traceback.extract_tb(current.__traceback__)
            if not _is_machinery(frame.filename)
        ]
        where = f" ({_relative(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
        lines.append(f"{type(current).__name__}: {current}{where}")
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return "\n  caused by ".join(lines)


def _is_machinery(filename: str) -> bool:
    """Frames of the import system and of this package say nothing about the app's error."""
    path = Path(filename)
    return (
        filename.startswith("<frozen")
        or path.parent == Path(importlib.__file__).parent
        or path.parent == Path(__file__).parent
    )


def _relative(filename: str) -> str:
    try:
        return os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
