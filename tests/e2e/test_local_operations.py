"""Operations on the local host: the maintenance timer fires, local data survives a restart."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e.conftest import assert_stopped_cleanly

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 20.0
PASSWORD = "a local passphrase that lasts 42"
JSON_HEADERS = {"Content-Type": "application/json"}

if TYPE_CHECKING:
    from tests.e2e.conftest import LocalHost

    StartLocalHost = Callable[..., LocalHost]


def wait_for_output(host: LocalHost, text: str) -> None:
    """Wait until the host printed ``text``; fail with its output otherwise."""
    deadline = time.monotonic() + WAIT_SECONDS
    while text not in host.output:
        if time.monotonic() > deadline or host.process.poll() is not None:
            pytest.fail(f"the local host never printed {text!r}:\n{host.output}")
        time.sleep(0.1)


def test_the_local_host_fires_the_maintenance_timer(start_local_host: StartLocalHost) -> None:
    host = start_local_host({"MAINTENANCE_SCHEDULE": "*/1 * * * * *"})
    wait_for_output(host, "maintenance: timerTrigger */1 * * * * * (next ")
    wait_for_output(host, "maintenance ran (timer)")
    assert '"event": "maintenance.done"' in host.output


def _register(host: LocalHost, email: str) -> int:
    body = json.dumps({"email": email, "password": PASSWORD}).encode()
    return host.request("POST", "/api/v1/auth/register", headers=JSON_HEADERS, body=body).status


def _login(host: LocalHost, email: str) -> int:
    body = json.dumps({"email": email, "password": PASSWORD}).encode()
    return host.request("POST", "/api/v1/auth/login", headers=JSON_HEADERS, body=body).status


def test_local_data_survives_a_restart_unless_a_fresh_database_is_asked_for(
    start_local_host: StartLocalHost, tmp_path: Path
) -> None:
    folder = tmp_path / "localdb"
    args = ["--db-dir", str(folder)]
    first = start_local_host(args=args)
    assert _register(first, "kept@example.com") == 201
    assert_stopped_cleanly(first)
    assert f"documents saved to {folder}/" in first.output
    assert list(folder.glob("*/users.bson")), "the save is in mongodump's layout"

    second = start_local_host(args=args)
    wait_for_output(second, f"documents loaded from {folder}")
    assert _login(second, "kept@example.com") == 200
    assert_stopped_cleanly(second)

    fresh = start_local_host(args=[*args, "--fresh-db"])
    wait_for_output(fresh, "Local data: starting fresh (--fresh-db)")
    assert _login(fresh, "kept@example.com") == 401
