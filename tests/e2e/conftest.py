"""Start the local host (`python -m devhost`) as a subprocess and talk to it over HTTP.

`start_local_host(env={...})` starts one with extra environment (a value of None removes
a variable) and stops it after the test; `local_host` is one shared host running the
real function_app with settings that need no external service. HTTP uses the stdlib.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import pytest

from tests.loopback import free_port

ROOT = Path(__file__).resolve().parents[2]
READY_PATH = "/api/v1/health"
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
STOPPED_LINE = "Local host stopped."
READY_LINE = "Ready; press Ctrl+C to stop."
DEFAULT_ENV: dict[str, str | None] = {
    "DATABASE_URL": "mongomock://",
    "RATE_LIMIT_ENABLED": "false",
    "CORS_ORIGINS": "http://allowed.example",
    "ENVIRONMENT": "development",
    "AZURE_STORAGE_CONNECTION_STRING": "",  # no Azurite needed
    "LOCAL_HOST_APP": None,
    "LOCAL_HOST_PORT": None,
    "PYTHONUNBUFFERED": "1",
}


@dataclass(frozen=True)
class Answer:
    """An HTTP response read in full."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class LocalHost:
    """A running `python -m devhost` process."""

    base_url: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr)."""
        return "".join(self.lines)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        """Send one request and read the whole answer."""
        address = urlsplit(self.base_url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return Answer(response.status, response.headers, response.read())
        finally:
            connection.close()

    def wait_until_ready(self, path: str = READY_PATH) -> None:
        """Poll `GET path` until it answers 200; fail with the process output otherwise."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._join_reader()
                pytest.fail(
                    f"local host exited with {self.process.returncode} before it was ready:\n"
                    f"{self.output}"
                )
            try:
                # Serving starts just before the banner is printed: wait for both.
                if READY_LINE in self.output and self.request("GET", path).status == 200:
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(0.1)
        self.process.kill()
        self.process.wait()
        self._join_reader()
        pytest.fail(f"local host not ready after {STARTUP_TIMEOUT_SECONDS:.0f} s:\n{self.output}")

    def wait_for_exit(self) -> int:
        """Wait for the process to end on its own; its exit code."""
        try:
            self.process.wait(timeout=STARTUP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            self._join_reader()
            pytest.fail(f"local host did not exit:\n{self.output}")
        self._join_reader()
        return self.process.returncode

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        """Send a shutdown signal and wait for the process to end; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            self._join_reader()
            pytest.fail(f"local host ignored {sig.name}:\n{self.output}")
        self._join_reader()
        return self.process.returncode

    def _join_reader(self) -> None:
        if self.reader is not None:
            self.reader.join(timeout=STOP_TIMEOUT_SECONDS)


def launch_local_host(
    *,
    settings: Path,
    env: Mapping[str, str | None] | None = None,
    args: Sequence[str] = (),
    wait_until_ready: bool = True,
    ready_path: str = READY_PATH,
) -> LocalHost:
    """Start `python -m devhost` on a free port from the repository root."""
    environment = dict(os.environ)
    for name, value in {**DEFAULT_ENV, **(env or {})}.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devhost", "--port", str(port), "--settings", str(settings), *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    host = LocalHost(f"http://127.0.0.1:{port}", process)
    # Drain the pipe continuously so a chatty host never blocks on a full buffer.
    host.reader = threading.Thread(
        target=_collect_lines, args=(process.stdout, host.lines), daemon=True
    )
    host.reader.start()
    if wait_until_ready:
        host.wait_until_ready(ready_path)
    return host


def _collect_lines(stream: IO[str], lines: list[str]) -> None:
    for line in stream:  # one at a time, so output is readable while the host runs
        lines.append(line)


def assert_stopped_cleanly(host: LocalHost, sig: signal.Signals = signal.SIGINT) -> None:
    """Stop the host with a signal; it must exit 0 and say it stopped."""
    assert host.stop(sig) == 0, host.output
    assert STOPPED_LINE in host.output


@pytest.fixture
def start_local_host(tmp_path: Path) -> Iterator[Callable[..., LocalHost]]:
    """Factory: start a local host with extra env; each still running is stopped after the test.

    By default no local.settings.json is read (an absent path), so only the environment counts.
    """
    started: list[LocalHost] = []

    def start(
        env: Mapping[str, str | None] | None = None,
        *,
        settings: Path | None = None,
        args: Sequence[str] = (),
        wait_until_ready: bool = True,
        ready_path: str = READY_PATH,
    ) -> LocalHost:
        host = launch_local_host(
            settings=settings or tmp_path / "absent" / "local.settings.json",
            env=env,
            args=args,
            wait_until_ready=False,
        )
        started.append(host)
        if wait_until_ready:
            host.wait_until_ready(ready_path)
        return host

    yield start
    for host in started:
        if host.process.poll() is None:
            assert_stopped_cleanly(host)


@pytest.fixture(scope="session")
def external_base_url() -> str | None:
    """E2E_BASE_URL: a host already running elsewhere (the real Functions host in Docker).

    Suites that take this fixture talk to that host instead of starting their own.
    """
    return os.environ.get("E2E_BASE_URL", "").strip().rstrip("/") or None


@pytest.fixture(scope="session")
def local_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHost]:
    """The real function_app on the local host, with settings that need no external service."""
    settings = tmp_path_factory.mktemp("local-host") / "local.settings.json"
    host = launch_local_host(settings=settings)
    yield host
    assert_stopped_cleanly(host)
