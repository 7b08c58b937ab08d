"""Virus scanning against a real clamd started for these tests."""

from __future__ import annotations

import io
import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from shared.services.scanning import (
    ClamdAddress,
    ClamdUrlError,
    ScanLimitExceeded,
    ScannerUnavailable,
    parse_clamd_url,
    ping,
    scan_chunks,
    scanning_enabled,
)
from tests.clamd_server import EICAR_SIGNATURE_NAME, eicar_test_file, running_clamd
from tests.conftest import reload_settings
from tests.loopback import free_port

MIB = 1024 * 1024
LARGE_SIGNATURE_NAME = "Large-Test-Signature"
# A multi-MiB payload whose MD5 is a signature: clamd flags it only if every byte arrived in order.
LARGE_PAYLOAD = random.Random(20240601).randbytes(5 * MIB)


@pytest.fixture(scope="module")
def clamd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_clamd(
        tmp_path_factory.mktemp("clamd"),
        extra_signatures={LARGE_SIGNATURE_NAME: LARGE_PAYLOAD},
    ) as url:
        yield url


def split_every(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def listening_socket_that_never_answers() -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    return server


def unused_tcp_url() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.mark.clamd
def test_eicar_file_is_reported_infected_with_its_signature(clamd_url: str) -> None:
    result = scan_chunks([eicar_test_file()], clamd_url=clamd_url)

    assert not result.clean
    assert result.signature is not None
    # clamd appends ".UNOFFICIAL" to signatures from a local database.
    assert result.signature.startswith(EICAR_SIGNATURE_NAME)


@pytest.mark.clamd
@pytest.mark.parametrize("chunk_size", [1, 7, 34, 67])
def test_eicar_split_across_chunk_boundaries_is_still_detected(
    clamd_url: str, chunk_size: int
) -> None:
    result = scan_chunks(split_every(eicar_test_file(), chunk_size), clamd_url=clamd_url)

    assert not result.clean


@pytest.mark.clamd
def test_empty_chunks_do_not_end_the_stream_early(clamd_url: str) -> None:
    eicar = eicar_test_file()

    result = scan_chunks([eicar[:30], b"", eicar[30:], b""], clamd_url=clamd_url)

    assert not result.clean


@pytest.mark.clamd
def test_random_bytes_are_clean(clamd_url: str) -> None:
    result = scan_chunks([random.Random(1).randbytes(64 * 1024)], clamd_url=clamd_url)

    assert result.clean
    assert result.signature is None


@pytest.mark.clamd
def test_small_png_is_clean(clamd_url: str) -> None:
    assert scan_chunks([small_png()], clamd_url=clamd_url).clean


@pytest.mark.clamd
def test_empty_file_is_clean(clamd_url: str) -> None:
    assert scan_chunks([], clamd_url=clamd_url).clean


@pytest.mark.clamd
def test_multi_mebibyte_stream_in_small_chunks_reaches_clamd_whole(clamd_url: str) -> None:
    result = scan_chunks(split_every(LARGE_PAYLOAD, 64 * 1024), clamd_url=clamd_url)

    assert result.signature is not None
    assert result.signature.startswith(LARGE_SIGNATURE_NAME)


@pytest.mark.clamd
def test_chunk_larger_than_a_frame_reaches_clamd_whole(clamd_url: str) -> None:
    result = scan_chunks([LARGE_PAYLOAD], clamd_url=clamd_url)

    assert result.signature is not None
    assert result.signature.startswith(LARGE_SIGNATURE_NAME)


@pytest.mark.clamd
def test_multi_mebibyte_stream_differing_by_one_byte_is_clean(clamd_url: str) -> None:
    altered = bytearray(LARGE_PAYLOAD)
    altered[-1] ^= 0xFF

    assert scan_chunks(split_every(bytes(altered), MIB), clamd_url=clamd_url).clean


@pytest.mark.clamd
def test_stream_longer_than_stream_max_length_raises_scan_limit_exceeded(
    tmp_path: Path,
) -> None:
    with running_clamd(tmp_path, stream_max_length="1M") as url:
        with pytest.raises(ScanLimitExceeded):
            scan_chunks(split_every(LARGE_PAYLOAD, 256 * 1024), clamd_url=url)
        # clamd survives the refusal and keeps scanning.
        assert scan_chunks([eicar_test_file()], clamd_url=url).signature is not None


@pytest.mark.clamd
def test_scans_over_a_unix_socket(tmp_path_factory: pytest.TempPathFactory) -> None:
    with running_clamd(tmp_path_factory.mktemp("clamd-unix"), unix_socket=True) as url:
        assert url.startswith("unix:///")
        assert ping(url)
        assert not scan_chunks([eicar_test_file()], clamd_url=url).clean
        assert scan_chunks([small_png()], clamd_url=url).clean


@pytest.mark.clamd
def test_ping_is_true_when_clamd_is_up(clamd_url: str) -> None:
    assert ping(clamd_url)


@pytest.mark.clamd
def test_scan_uses_clamd_url_setting_by_default(
    clamd_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reload_settings(monkeypatch, CLAMD_URL=clamd_url)

    assert scanning_enabled()
    assert not scan_chunks([eicar_test_file()]).clean


@pytest.mark.clamd
def test_failure_reading_the_upload_surfaces_as_itself(clamd_url: str) -> None:
    class BlobReadFailedError(OSError):
        pass

    def failing_download() -> Iterator[bytes]:
        yield b"first part"
        raise BlobReadFailedError("download interrupted")

    with pytest.raises(BlobReadFailedError):
        scan_chunks(failing_download(), clamd_url=clamd_url)


def test_unreachable_clamd_raises_scanner_unavailable() -> None:
    with pytest.raises(ScannerUnavailable, match="unreachable"):
        scan_chunks([b"data"], clamd_url=unused_tcp_url(), timeout=2)


def test_missing_unix_socket_raises_scanner_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ScannerUnavailable):
        scan_chunks([b"data"], clamd_url=f"unix://{tmp_path}/absent.ctl", timeout=2)


def test_clamd_that_never_answers_raises_scanner_unavailable() -> None:
    with listening_socket_that_never_answers() as server:
        host, port = server.getsockname()
        with pytest.raises(ScannerUnavailable, match="in time"):
            scan_chunks([b"data"], clamd_url=f"tcp://{host}:{port}", timeout=0.5)


def test_ping_is_false_when_clamd_is_unreachable() -> None:
    assert not ping(unused_tcp_url(), timeout=2)


@pytest.mark.parametrize(
    "url",
    [
        "clamd",
        "localhost:3310",
        "http://localhost:3310",
        "tcp://localhost",
        "tcp://:3310",
        "tcp://localhost:0",
        "tcp://localhost:65536",
        "tcp://localhost:port",
        "tcp://localhost:3310/scan",
        "tcp://localhost:3310?timeout=5",
        "tcp://localhost:3310#x",
        "unix://run/clamav/clamd.ctl",
        "unix:///",
        "unix:",
    ],
)
def test_malformed_clamd_urls_are_rejected(url: str) -> None:
    with pytest.raises(ClamdUrlError):
        parse_clamd_url(url)


def test_rejected_clamd_url_does_not_echo_credentials() -> None:
    with pytest.raises(ClamdUrlError) as caught:
        parse_clamd_url("tcp://scanner:hunter2@localhost:3310")

    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("tcp://127.0.0.1:3310", ClamdAddress(host="127.0.0.1", port=3310)),
        ("tcp://clamav.internal:3310/", ClamdAddress(host="clamav.internal", port=3310)),
        ("tcp://[::1]:3310", ClamdAddress(host="::1", port=3310)),
        ("unix:///run/clamav/clamd.ctl", ClamdAddress(socket_path="/run/clamav/clamd.ctl")),
    ],
)
def test_well_formed_clamd_urls_are_parsed(url: str, address: ClamdAddress) -> None:
    assert parse_clamd_url(url) == address


def test_empty_clamd_url_disables_scanning(monkeypatch: pytest.MonkeyPatch) -> None:
    reload_settings(monkeypatch, CLAMD_URL="")

    assert not scanning_enabled()
    with pytest.raises(ClamdUrlError, match="disabled"):
        scan_chunks([b"data"])
