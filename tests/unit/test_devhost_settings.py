"""local.settings.json and host.json as the local host reads them, like Core Tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devhost.settings import SettingsFileError, load_local_settings, read_route_prefix


def _write_settings(path: Path, values: dict[str, object], **extra: object) -> Path:
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values, **extra}))
    return path


def test_values_fill_variables_the_environment_lacks(tmp_path: Path) -> None:
    settings = _write_settings(tmp_path / "local.settings.json", {"DATABASE_NAME": "from_file"})
    environ: dict[str, str] = {}
    report = load_local_settings(settings, environ)
    assert environ == {"DATABASE_NAME": "from_file"}
    assert report.source == settings
    assert report.applied == ["DATABASE_NAME"]


def test_a_variable_already_in_the_environment_wins_even_when_empty(tmp_path: Path) -> None:
    settings = _write_settings(
        tmp_path / "local.settings.json",
        {"ENVIRONMENT": "staging", "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"},
    )
    environ = {"ENVIRONMENT": "development", "AZURE_STORAGE_CONNECTION_STRING": ""}
    report = load_local_settings(settings, environ)
    assert environ == {"ENVIRONMENT": "development", "AZURE_STORAGE_CONNECTION_STRING": ""}
    assert report.kept_from_environment == ["ENVIRONMENT", "AZURE_STORAGE_CONNECTION_STRING"]


def test_example_file_is_used_when_local_settings_is_absent(tmp_path: Path) -> None:
    _write_settings(tmp_path / "local.settings.json.example", {"LOG_LEVEL": "DEBUG"})
    environ: dict[str, str] = {}
    report = load_local_settings(tmp_path / "local.settings.json", environ)
    assert report.source == tmp_path / "local.settings.json.example"
    assert environ == {"LOG_LEVEL": "DEBUG"}


def test_local_settings_is_preferred_over_the_example(tmp_path: Path) -> None:
    _write_settings(tmp_path / "local.settings.json.example", {"LOG_LEVEL": "DEBUG"})
    settings = _write_settings(tmp_path / "local.settings.json", {"LOG_LEVEL": "WARNING"})
    environ: dict[str, str] = {}
    load_local_settings(settings, environ)
    assert environ == {"LOG_LEVEL": "WARNING"}


def test_without_any_settings_file_the_environment_is_untouched(tmp_path: Path) -> None:
    environ = {"PATH": "/bin"}
    report = load_local_settings(tmp_path / "local.settings.json", environ)
    assert report.source is None
    assert environ == {"PATH": "/bin"}


def test_non_string_values_reach_the_environment_as_strings(tmp_path: Path) -> None:
    settings = _write_settings(
        tmp_path / "local.settings.json", {"DEBUG": True, "BCRYPT_ROUNDS": 4, "UNSET": None}
    )
    environ: dict[str, str] = {}
    load_local_settings(settings, environ)
    assert environ == {"DEBUG": "true", "BCRYPT_ROUNDS": "4"}


def test_encrypted_settings_file_is_refused(tmp_path: Path) -> None:
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"IsEncrypted": True, "Values": {"A": "b"}}))
    with pytest.raises(SettingsFileError, match="encrypted"):
        load_local_settings(settings, {})


def test_malformed_settings_file_is_refused_with_its_path(tmp_path: Path) -> None:
    settings = tmp_path / "local.settings.json"
    settings.write_text("{not json")
    with pytest.raises(SettingsFileError, match=r"local\.settings\.json"):
        load_local_settings(settings, {})


def test_route_prefix_comes_from_host_json(tmp_path: Path) -> None:
    host_json = tmp_path / "host.json"
    host_json.write_text(json.dumps({"extensions": {"http": {"routePrefix": "/gateway/"}}}))
    assert read_route_prefix(host_json) == "gateway"


def test_route_prefix_may_be_empty(tmp_path: Path) -> None:
    host_json = tmp_path / "host.json"
    host_json.write_text(json.dumps({"extensions": {"http": {"routePrefix": ""}}}))
    assert read_route_prefix(host_json) == ""


def test_route_prefix_defaults_to_api(tmp_path: Path) -> None:
    assert read_route_prefix(tmp_path / "missing-host.json") == "api"
    host_json = tmp_path / "host.json"
    host_json.write_text(json.dumps({"version": "2.0"}))
    assert read_route_prefix(host_json) == "api"
