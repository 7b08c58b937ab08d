"""The project files Core Tools reads at start: local.settings.json and host.json."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ROUTE_PREFIX = "api"
EXAMPLE_SUFFIX = ".example"


class SettingsFileError(Exception):
    """A local.settings.json or host.json that cannot be used."""


@dataclass(frozen=True)
class LocalSettings:
    """What loading local.settings.json did to the environment."""

    source: Path | None
    applied: list[str] = field(default_factory=list)
    kept_from_environment: list[str] = field(default_factory=list)


def settings_file(requested: Path) -> Path | None:
    """The settings file to read: the requested one, else its `.example` twin, else none."""
    example = requested.with_name(requested.name + EXAMPLE_SUFFIX)
    return next((path for path in (requested, example) if path.is_file()), None)


def load_local_settings(requested: Path, environ: MutableMapping[str, str]) -> LocalSettings:
    """Copy the file's Values into environ; a variable the environment already has wins."""
    source = settings_file(requested)
    if source is None:
        return LocalSettings(source=None)
    document = _read_json(source)
    if document.get("IsEncrypted") is True:
        raise SettingsFileError(f"{source} is encrypted; decrypt it with Core Tools first")
    values = document.get("Values", {})
    if not isinstance(values, dict):
        raise SettingsFileError(f"{source}: 'Values' must be an object")
    report = LocalSettings(source=source)
    for name, value in values.items():
        if name in environ:
            report.kept_from_environment.append(name)
        elif value is not None:
            # Core Tools hands every value to the worker as a string.
            environ[name] = value if isinstance(value, str) else json.dumps(value)
            report.applied.append(name)
    return report


def read_route_prefix(host_json: Path) -> str:
    """host.json's extensions.http.routePrefix; "api" when the file or the key is absent."""
    if not host_json.is_file():
        return DEFAULT_ROUTE_PREFIX
    prefix = _read_json(host_json).get("extensions", {}).get("http", {}).get("routePrefix")
    if prefix is None:
        return DEFAULT_ROUTE_PREFIX
    if not isinstance(prefix, str):
        raise SettingsFileError(f"{host_json}: extensions.http.routePrefix must be a string")
    return prefix.strip("/")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise SettingsFileError(f"cannot read {path}: {exc}") from None
    if not isinstance(document, dict):
        raise SettingsFileError(f"{path} must hold a JSON object")
    return document
