"""`make run`'s storage: this checkout's own Azurite, stopped with the host.

The local host is started as `make run` starts it (`python -m devhost --azurite`), with
Azurite's data folder and port chosen per test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from azure.storage.blob import BlobServiceClient

from devhost.azurite import AzuriteError, azurite_connection_string, start_azurite
from tests import media_samples
from tests.azurite_server import require_azurite_binary
from tests.e2e.conftest import LocalHost
from tests.e2e.uploads_e2e import sign_up
from tests.loopback import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.azurite]

StartLocalHost = Callable[..., LocalHost]
STOP_BOUND_SECONDS = 2.0
POLL = {"LOCAL_HOST_BLOB_POLL_SECONDS": "0.2", "LOCAL_HOST_BLOB_RETRY_SECONDS": "0.2"}
BANNER_END = "Ready; press Ctrl+C to stop."
MOVED = re.compile(r"port (\d+) is held by another data folder's Azurite; using (\d+)")


@pytest.fixture(autouse=True)
def _azurite_installed() -> None:
    require_azurite_binary()


def start_with_azurite(
    start_local_host: StartLocalHost, location: Path, port: int, **env: str
) -> LocalHost:
    """`make run` in miniature: the local host starting its own Azurite."""
    args = ["--azurite", "--azurite-location", str(location), "--azurite-port", str(port)]
    host = start_local_host({**POLL, **env}, args=args)
    deadline = time.monotonic() + 30
    while BANNER_END not in host.output:  # HTTP answers a moment before the banner prints
        assert time.monotonic() < deadline, host.output
        time.sleep(0.05)
    return host


def azurite_pids(location: Path) -> list[int]:
    """Processes whose command line names this data folder (the Azurite serving it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        if str(location).encode() in command and b"--blobPort" in command:
            pids.append(int(entry.name))
    return pids


@pytest.mark.parametrize(
    ("sig", "times"),
    [(signal.SIGTERM, 1), (signal.SIGINT, 1), (signal.SIGTERM, 2)],
    # Twice at once: `kill -TERM -<group>` of `make run` reaches the host, and make relays it.
    ids=["SIGTERM", "Ctrl-C", "SIGTERM-to-make's-group"],
)
def test_a_shutdown_signal_stops_the_host_and_its_azurite_within_two_seconds(
    start_local_host: StartLocalHost, tmp_path: Path, sig: signal.Signals, times: int
) -> None:
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("needs /proc to find the Azurite process")
    location = tmp_path / "azurite"
    host = start_with_azurite(start_local_host, location, free_port())
    (azurite,) = azurite_pids(location)

    for repeat in range(times):
        if repeat:
            time.sleep(0.05)  # make relays it once its own handler has run
        host.process.send_signal(sig)
    try:
        host.process.wait(timeout=STOP_BOUND_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the local host was still running {STOP_BOUND_SECONDS} s after {sig.name}")

    assert host.process.returncode == 0
    assert azurite_pids(location) == []
    with pytest.raises(ProcessLookupError):
        os.kill(azurite, 0)


def test_two_checkouts_at_once_never_touch_each_others_blobs(
    start_local_host: StartLocalHost, tmp_path: Path
) -> None:
    port = free_port()  # both ask for the same port, as two `make run` ask for 10000
    first = start_with_azurite(start_local_host, tmp_path / "one" / ".azurite", port)
    second = start_with_azurite(start_local_host, tmp_path / "two" / ".azurite", port)
    moved = MOVED.search(second.output)
    assert moved is not None, second.output
    assert f"Azurite on 127.0.0.1:{port}," in first.output
    second_port = int(moved.group(2))

    uploader = sign_up(first)
    png = media_samples.write_png(tmp_path)
    created = uploader.start_upload("a.png", "image/png", png.stat().st_size)
    put = requests.put(
        created["upload"]["url"],
        data=png.read_bytes(),
        headers=created["upload"]["headers"],
        timeout=10,
    )
    assert put.status_code == 201
    assert uploader.wait_until_settled(created["id"])["status"] == "ready"
    time.sleep(1.5)  # several polling rounds of both hosts' blob triggers

    upload = uploader.get(created["id"])
    assert upload["status"] == "ready"
    assert requests.get(upload["download_url"], timeout=10).status_code == 200
    with BlobServiceClient.from_connection_string(azurite_connection_string(second_port)) as other:
        for container in ("uploads", "files", "quarantine"):
            assert list(other.get_container_client(container).list_blobs()) == []


@pytest.fixture
def own_azurite(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An Azurite started for one data folder; stopped afterwards."""
    port, location = free_port(), tmp_path / "mine"
    with start_azurite(port, location, origins=[]) as azurite:
        assert not azurite.reused
        yield port, location


def test_an_azurite_is_reused_only_by_the_data_folder_it_serves(
    own_azurite: tuple[int, Path], tmp_path: Path
) -> None:
    port, location = own_azurite

    again = start_azurite(port, location, origins=[])
    assert (again.reused, again.port) == (True, port)
    with pytest.raises(AzuriteError, match=f"port {port} is held by another data folder"):
        start_azurite(port, tmp_path / "theirs", origins=[])
    with start_azurite(port, tmp_path / "theirs", origins=[], move_if_taken=True) as other:
        assert other.port != port
        assert not other.reused
        assert (
            other.note
            == f"port {port} is held by another data folder's Azurite; using {other.port}"
        )
