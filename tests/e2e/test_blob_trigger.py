"""The local host fires blob triggers like the Functions host: per version, receipts, retries."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from tests.e2e.conftest import LocalHost

pytestmark = [pytest.mark.e2e, pytest.mark.azurite]

StartLocalHost = Callable[..., LocalHost]


def wait_for_lines(log: Path, count: int, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.1)
    raise AssertionError(
        f"expected {count} invocations, saw: {log.read_text() if log.exists() else ''}"
    )


def start_blob_app(
    start_local_host: StartLocalHost, azurite: str, log: Path, failures: int = 0
) -> LocalHost:
    return start_local_host(
        {
            "LOCAL_HOST_APP": "tests.e2e.fixtures.blob_app:app",
            "BlobAppStorage": azurite,
            "BLOB_APP_LOG": str(log),
            "BLOB_APP_FAILURES": str(failures),
            "LOCAL_HOST_BLOB_POLL_SECONDS": "0.2",
            "LOCAL_HOST_BLOB_RETRY_SECONDS": "0.1",
        }
    )


@pytest.fixture
def incoming(azurite: str) -> BlobServiceClient:
    service = BlobServiceClient.from_connection_string(azurite)
    container = service.get_container_client("incoming")
    if not container.exists():
        container.create_container()
    return service


def test_each_new_blob_version_fires_once_and_receipts_survive_a_restart(
    start_local_host: StartLocalHost, azurite: str, incoming: BlobServiceClient, tmp_path: Path
) -> None:
    log = tmp_path / "invocations.log"
    name = f"{uuid.uuid4().hex}.txt"
    blob = incoming.get_blob_client("incoming", name)
    blob.upload_blob(b"first version")
    host = start_blob_app(start_local_host, azurite, log)
    first = wait_for_lines(log, 1)
    assert first[0].startswith(name)
    blob.upload_blob(b"second version", overwrite=True)  # a new version: a new ETag
    second = wait_for_lines(log, 2)
    assert second[0].split()[1] != second[1].split()[1]
    assert host.stop() == 0

    restarted = start_blob_app(start_local_host, azurite, log)
    time.sleep(1.5)  # several polling rounds
    assert len(log.read_text().splitlines()) == 2, "receipts stop a restart from firing again"
    assert restarted.process.poll() is None


def test_a_failing_invocation_is_retried_until_it_succeeds(
    start_local_host: StartLocalHost, azurite: str, incoming: BlobServiceClient, tmp_path: Path
) -> None:
    log = tmp_path / "invocations.log"
    name = f"{uuid.uuid4().hex}.txt"
    incoming.get_blob_client("incoming", name).upload_blob(b"payload")
    host = start_blob_app(start_local_host, azurite, log, failures=2)
    lines = wait_for_lines(log, 3)
    time.sleep(0.8)
    assert len(log.read_text().splitlines()) == 3, "no retries after the first success"
    assert all(line.startswith(name) for line in lines)
    assert "try 3" in host.output


def test_a_blob_that_always_fails_is_tried_five_times_then_given_up(
    start_local_host: StartLocalHost, azurite: str, incoming: BlobServiceClient, tmp_path: Path
) -> None:
    log = tmp_path / "invocations.log"
    name = f"{uuid.uuid4().hex}.txt"
    incoming.get_blob_client("incoming", name).upload_blob(b"poison")
    host = start_blob_app(start_local_host, azurite, log, failures=99)
    wait_for_lines(log, 5)
    time.sleep(1.5)
    assert len(log.read_text().splitlines()) == 5
    assert "poison after 5 tries" in host.output
