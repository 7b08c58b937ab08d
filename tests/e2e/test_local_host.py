"""The local host end to end: a real `python -m devhost` process answering over HTTP."""

from __future__ import annotations

import http.client
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from devhost.http_app import MAX_REQUEST_BODY_BYTES

pytestmark = pytest.mark.e2e

PROBE_APP = {"LOCAL_HOST_APP": "tests.e2e.fixtures.probe_app:app"}
OVERLAPPING_APP = {"LOCAL_HOST_APP": "tests.e2e.fixtures.overlapping_app:app"}

if TYPE_CHECKING:
    from tests.e2e.conftest import LocalHost

    StartLocalHost = Callable[..., LocalHost]


def test_unknown_route_is_the_hosts_empty_404_with_the_platforms_cors(
    local_host: LocalHost,
) -> None:
    # The host's CORS middleware runs before routing, so even its 404 carries Allow-Origin.
    answer = local_host.request(
        "GET", "/api/v1/no-such-route", headers={"Origin": "http://allowed.example"}
    )
    assert answer.status == 404
    assert answer.body == b""
    assert "X-Request-ID" not in answer.headers
    assert "Content-Type" not in answer.headers
    assert answer.headers["Access-Control-Allow-Origin"] == "http://allowed.example"


@pytest.mark.parametrize("method", ["DELETE", "HEAD", "PUT"])
def test_known_path_with_an_unserved_method_is_404_like_azure(
    local_host: LocalHost, method: str
) -> None:
    answer = local_host.request(method, "/api/v1/health")
    assert answer.status == 404
    assert answer.body == b""
    assert "Allow" not in answer.headers


def test_route_prefix_and_literals_match_case_insensitively(local_host: LocalHost) -> None:
    assert local_host.request("GET", "/API/V1/Health").status == 200


def test_request_body_over_100_mib_is_refused_with_413_unread(local_host: LocalHost) -> None:
    connection = http.client.HTTPConnection(urlsplit(local_host.base_url).netloc)
    try:
        connection.putrequest("POST", "/api/v1/health")
        connection.putheader("Content-Length", str(MAX_REQUEST_BODY_BYTES + 1))
        connection.putheader("Content-Type", "application/octet-stream")
        connection.endheaders()  # the body is never sent: the host must not wait for it
        response = connection.getresponse()
        assert response.status == 413
        assert response.read() == b""
    finally:
        connection.close()


def test_overlapping_routes_refuse_to_start_naming_both_functions(
    start_local_host: StartLocalHost,
) -> None:
    host = start_local_host(env=OVERLAPPING_APP, wait_until_ready=False)
    assert host.wait_for_exit() != 0
    assert "read_current_user" in host.output
    assert "read_user" in host.output
    assert "/api/v1/users/me" in host.output


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda sig: sig.name)
def test_shutdown_signal_stops_the_host_cleanly(
    start_local_host: StartLocalHost, sig: signal.Signals
) -> None:
    host = start_local_host(env=PROBE_APP)
    assert host.stop(sig) == 0, host.output
    assert "Local host stopped." in host.output


def test_banner_lists_every_function_and_says_what_is_not_served(
    start_local_host: StartLocalHost,
) -> None:
    host = start_local_host(env={**PROBE_APP, "ProbeStorage": None})
    assert f"health: [GET] {host.base_url}/api/v1/health" in host.output
    assert (
        "process_upload: blobTrigger uploads/{name} (connection ProbeStorage, NOT SET: not watched)"
        in host.output
    )
    assert "hourly: timerTrigger 0 0 * * * * (next " in host.output
    assert "queued: queueTrigger (not served by the local host yet)" in host.output


def test_environment_wins_over_local_settings_values(
    start_local_host: StartLocalHost, tmp_path: Path
) -> None:
    settings = tmp_path / "local.settings.json"
    values = {"ENVIRONMENT": "staging", "DEVHOST_PROBE": "from-file"}
    settings.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    host = start_local_host(
        env={**PROBE_APP, "ENVIRONMENT": "development", "DEVHOST_PROBE": None},
        settings=settings,
    )
    assert host.request("GET", "/api/v1/settings").json() == {
        "ENVIRONMENT": "development",
        "DEVHOST_PROBE": "from-file",
    }
    assert str(settings) in host.output


def test_example_settings_are_read_when_local_settings_is_absent(
    start_local_host: StartLocalHost, tmp_path: Path
) -> None:
    example = tmp_path / "local.settings.json.example"
    example.write_text(json.dumps({"Values": {"DEVHOST_PROBE": "from-example"}}))
    host = start_local_host(
        env={**PROBE_APP, "DEVHOST_PROBE": None}, settings=tmp_path / "local.settings.json"
    )
    assert host.request("GET", "/api/v1/settings").json()["DEVHOST_PROBE"] == "from-example"
    assert str(example) in host.output


def test_client_address_is_appended_to_x_forwarded_for(start_local_host: StartLocalHost) -> None:
    host = start_local_host(env=PROBE_APP)
    answer = host.request(
        "GET",
        "/api/v1/forwarding",
        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
    )
    assert answer.json() == {
        "x-forwarded-for": "203.0.113.9, 127.0.0.1",
        "x-forwarded-proto": "http",
    }
