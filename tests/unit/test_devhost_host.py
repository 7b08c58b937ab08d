"""The local host refuses to start, with a clear message, when the app cannot be served."""

from __future__ import annotations

import socket
import sys
import types
from dataclasses import replace
from pathlib import Path

import azure.functions as func
import pytest

from devhost.cli import parse_args
from devhost.host import HostConfig, run


def _config(tmp_path: Path, app: str) -> HostConfig:
    return HostConfig(
        host="127.0.0.1",
        port=0,
        settings=tmp_path / "local.settings.json",
        app=app,
        host_json=tmp_path / "host.json",
    )


def _install_app(monkeypatch: pytest.MonkeyPatch, app: func.FunctionApp) -> str:
    module = types.ModuleType("devhost_test_app")
    module.app = app  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "devhost_test_app", module)
    return "devhost_test_app:app"


def test_app_that_fails_to_import_stops_the_host_with_the_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(_config(tmp_path, "devhost_no_such_module:app")) == 1
    error = capsys.readouterr().err
    assert "cannot import 'devhost_no_such_module'" in error
    assert "ModuleNotFoundError" in error
    assert "Traceback" not in error


def test_app_that_fails_to_index_stops_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for route in ("a", "b"):

        @app.function_name("same_name")
        @app.route(route=route)
        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse()

    assert run(_config(tmp_path, _install_app(monkeypatch, app))) == 1
    assert "does not have a unique function name" in capsys.readouterr().err


def test_overlapping_routes_stop_the_host_naming_both_functions_and_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="v1/users/me", methods=["GET", "OPTIONS"])
    def read_me(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse()

    @app.route(route="v1/users/{user_id}", methods=["GET", "OPTIONS"])
    def read_user(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse()

    assert run(_config(tmp_path, _install_app(monkeypatch, app))) == 1
    error = capsys.readouterr().err
    assert "read_me" in error
    assert "read_user" in error
    assert "GET,OPTIONS /api/v1/users/me" in error


def test_same_template_with_a_shared_method_stops_the_host_like_azure_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Azure refuses the later function by name ("conflicts with the route defined by...").
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="v1/users/me", methods=["GET", "OPTIONS"])
    def users_me_get(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse()

    @app.route(route="/V1/Users/Me/", methods=["PATCH", "OPTIONS"])
    def users_me_update(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse()

    assert run(_config(tmp_path, _install_app(monkeypatch, app))) == 1
    error = capsys.readouterr().err
    assert "users_me_update: The route specified" in error
    assert "conflicts with the route defined by function 'users_me_get'" in error


def test_a_route_in_the_hosts_reserved_space_stops_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="admin/stats", methods=["GET"])
    def stats(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse()

    assert run(_config(tmp_path, _install_app(monkeypatch, app))) == 1
    assert "stats: The specified route 'admin/stats' conflicts with one or more built in" in (
        capsys.readouterr().err
    )


def test_invalid_route_template_stops_the_host_naming_the_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="v1/items/{id:integer}")
    def read_item(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse()

    assert run(_config(tmp_path, _install_app(monkeypatch, app))) == 1
    error = capsys.readouterr().err
    assert "read_item" in error
    assert "unknown route constraint 'integer'" in error


def test_port_and_app_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_HOST_PORT", "7999")
    monkeypatch.setenv("LOCAL_HOST_APP", "other_app:application")
    config = parse_args([])
    assert (config.host, config.port, config.app) == ("127.0.0.1", 7999, "other_app:application")
    assert parse_args(["--port", "8001"]).port == 8001


def test_port_already_in_use_stops_the_host_with_the_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="v1/health")
    def health(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse()

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = replace(_config(tmp_path, _install_app(monkeypatch, app)), port=port)
        assert run(config) == 1
    captured = capsys.readouterr()
    assert f"cannot listen on http://127.0.0.1:{port}" in captured.err
    assert "Local host stopped." in captured.out
