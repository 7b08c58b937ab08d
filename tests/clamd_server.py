"""Run a real clamd for tests, with a tiny signature database written on the spot.

No signatures are downloaded: the database holds MD5 hash signatures (``.hdb``)
for the EICAR test file and for any extra payloads a test names. Usage::

    from tests.clamd_server import eicar_test_file, running_clamd

    @pytest.fixture(scope="module")
    def clamd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        with running_clamd(tmp_path_factory.mktemp("clamd")) as url:
            yield url  # e.g. "tcp://127.0.0.1:40123"; use it as CLAMD_URL

clamd runs as whoever runs the tests (root in containers needs no ``User`` line).
When the binary is missing the calling test is skipped, or failed when CI is set.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from shared.services.scanning import ping
from tests.loopback import free_port

EICAR_SIGNATURE_NAME = "Eicar-Test-Signature"
START_TIMEOUT_SECONDS = 60.0
DEBIAN_CLAMD = "/usr/sbin/clamd"
# Unix socket paths longer than this do not fit in sockaddr_un.
MAX_SOCKET_PATH_LENGTH = 100


def eicar_test_file() -> bytes:
    """The 68-byte EICAR test file, assembled here so no file in the repo is itself EICAR."""
    # Split so that antivirus on developer machines does not flag this source file.
    head = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
    tail = b"EICAR-STANDARD-" + b"ANTIVIRUS-TEST-FILE!$H+H*"
    return head + tail


def clamd_binary() -> str:
    """Path to clamd; skips the test on a developer machine, fails it under CI."""
    found = shutil.which("clamd")
    # /usr/sbin is often missing from a non-root user's PATH.
    if found is None and os.access(DEBIAN_CLAMD, os.X_OK):
        found = DEBIAN_CLAMD
    if found is not None:
        return found
    reason = "clamd is not installed (Debian package clamav-daemon)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must install it", pytrace=False)
    pytest.skip(reason)


@contextmanager
def running_clamd(
    workdir: Path,
    *,
    extra_signatures: Mapping[str, bytes] | None = None,
    stream_max_length: str = "300M",
    unix_socket: bool = False,
) -> Iterator[str]:
    """Start clamd in ``workdir`` and yield its CLAMD_URL; stop it on exit.

    ``extra_signatures`` maps a signature name to exact file contents clamd must
    report as infected, next to the EICAR test file.
    """
    binary = clamd_binary()
    database = workdir / "db"
    database.mkdir(parents=True, exist_ok=True)
    signatures = {EICAR_SIGNATURE_NAME: eicar_test_file(), **(extra_signatures or {})}
    (database / "test.hdb").write_text(
        "".join(
            f"{hashlib.md5(body).hexdigest()}:{len(body)}:{name}\n"  # noqa: S324 - clamd's format
            for name, body in signatures.items()
        )
    )
    url, listen_lines = _listen_config(workdir, unix_socket=unix_socket)
    log_file = workdir / "clamd.log"
    config = workdir / "clamd.conf"
    config.write_text(
        "\n".join(
            [
                "Foreground yes",
                *listen_lines,
                f"DatabaseDirectory {database}",
                f"LogFile {log_file}",
                "LogTime yes",
                f"StreamMaxLength {stream_max_length}",
                # Files past these limits would be passed unscanned, so match the stream limit.
                f"MaxFileSize {stream_max_length}",
                f"MaxScanSize {stream_max_length}",
                "",
            ]
        )
    )
    console = workdir / "clamd.console.log"
    with console.open("wb") as console_out:
        process = subprocess.Popen(
            [binary, f"--config-file={config}"],
            stdin=subprocess.DEVNULL,
            stdout=console_out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_answering(process, url, logs=(log_file, console))
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _listen_config(workdir: Path, *, unix_socket: bool) -> tuple[str, list[str]]:
    if unix_socket:
        path = workdir / "clamd.ctl"
        if len(str(path)) > MAX_SOCKET_PATH_LENGTH:
            raise ValueError(f"socket path too long for a Unix socket: {path}")
        return f"unix://{path}", [f"LocalSocket {path}"]
    port = free_port()
    return f"tcp://127.0.0.1:{port}", [f"TCPSocket {port}", "TCPAddr 127.0.0.1"]


def _wait_until_answering(
    process: subprocess.Popen[bytes], url: str, *, logs: tuple[Path, ...]
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not ping(url, timeout=1):
        if process.poll() is not None:
            raise RuntimeError(f"clamd exited with status {process.returncode}\n{_read_logs(logs)}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"clamd did not answer PING within {START_TIMEOUT_SECONDS:.0f} s\n"
                f"{_read_logs(logs)}"
            )
        time.sleep(0.1)


def _read_logs(logs: tuple[Path, ...]) -> str:
    return "\n".join(
        f"--- {log} ---\n{log.read_text(errors='replace')[-5000:]}" for log in logs if log.exists()
    )
