"""Virus scanning over clamd's INSTREAM protocol.

``CLAMD_URL`` is ``tcp://host:port`` or ``unix:///path/to/clamd.ctl``; empty
disables scanning. clamd refuses streams longer than its ``StreamMaxLength``
(default 25M), so production clamd must set ``StreamMaxLength`` to at least
``UPLOAD_MAX_BYTES`` or every large upload ends in ``ScanLimitExceeded``; its
``MaxFileSize`` and ``MaxScanSize`` must be as large, or clamd passes the excess unscanned.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.config import get_settings

# Bounded frames keep memory flat however large the upload is.
MAX_FRAME_BYTES = 1024 * 1024
# clamd's replies are one short line; anything longer is not clamd.
MAX_REPLY_BYTES = 4096
URL_FORMS = "tcp://host:port or unix:///path/to/clamd.ctl"

_FRAME_LENGTH = struct.Struct(">I")
_END_OF_STREAM = _FRAME_LENGTH.pack(0)
_LIMIT_REPLY = "INSTREAM size limit exceeded. ERROR"
_STREAM_PREFIX = "stream: "


@dataclass(frozen=True)
class ScanResult:
    """The verdict on one stream: clean, or infected with ``signature``."""

    clean: bool
    signature: str | None = None


@dataclass(frozen=True)
class ClamdAddress:
    """Where clamd listens: a TCP host and port, or a Unix socket path."""

    host: str | None = None
    port: int | None = None
    socket_path: str | None = None


class ClamdUrlError(ValueError):
    """CLAMD_URL is malformed: a configuration error, not worth retrying."""


class ScannerUnavailable(Exception):
    """clamd could not be reached, timed out or answered nonsense; retry later."""


class ScanLimitExceeded(Exception):
    """The stream is longer than clamd's StreamMaxLength."""


def scanning_enabled(clamd_url: str | None = None) -> bool:
    """Whether a clamd is configured (an empty CLAMD_URL means skip scanning)."""
    url = get_settings().CLAMD_URL if clamd_url is None else clamd_url
    return bool(url.strip())


def parse_clamd_url(clamd_url: str) -> ClamdAddress:
    """Parse CLAMD_URL strictly, raising ClamdUrlError on anything unexpected."""
    # The URL itself stays out of messages: it is configuration, possibly with userinfo.
    try:
        parts = urlsplit(clamd_url.strip())
        port = parts.port
    except ValueError:
        raise ClamdUrlError(f"CLAMD_URL is malformed; expected {URL_FORMS}") from None
    if parts.query or parts.fragment or parts.username is not None or "@" in parts.netloc:
        raise ClamdUrlError(
            f"CLAMD_URL must not carry credentials, a query or a fragment; expected {URL_FORMS}"
        )
    if parts.scheme == "tcp":
        if not parts.hostname or port is None or port == 0 or parts.path not in ("", "/"):
            raise ClamdUrlError(f"CLAMD_URL needs a host and a port; expected {URL_FORMS}")
        return ClamdAddress(host=parts.hostname, port=port)
    if parts.scheme == "unix":
        if parts.netloc or not parts.path.startswith("/") or parts.path == "/":
            raise ClamdUrlError(f"CLAMD_URL needs an absolute socket path; expected {URL_FORMS}")
        return ClamdAddress(socket_path=parts.path)
    raise ClamdUrlError(f"CLAMD_URL has an unknown scheme; expected {URL_FORMS}")


def ping(clamd_url: str | None = None, *, timeout: float = 5) -> bool:
    """Whether clamd answers PING with PONG."""
    address = _address(clamd_url)
    try:
        with _connect(address, timeout) as conn:
            _send(conn, b"zPING\0")
            return _read_reply(conn) == "PONG"
    except (ScannerUnavailable, _ClamdHungUpError):
        return False


def scan_chunks(
    chunks: Iterable[bytes], *, clamd_url: str | None = None, timeout: float = 30
) -> ScanResult:
    """Stream ``chunks`` to clamd and return its verdict.

    ``timeout`` bounds each connect, send and receive, not the whole scan.
    Exceptions raised by ``chunks`` itself propagate unchanged.
    """
    address = _address(clamd_url)
    with _connect(address, timeout) as conn:
        try:
            _send(conn, b"zINSTREAM\0")
            for frame in _frames(chunks):
                _send(conn, _FRAME_LENGTH.pack(len(frame)))
                _send(conn, frame)
            _send(conn, _END_OF_STREAM)
        except _ClamdHungUpError:
            # clamd hangs up mid-stream when the size limit is hit; its reply says why.
            pass
        reply = _read_reply(conn)
    return _verdict(reply)


class _ClamdHungUpError(Exception):
    """clamd stopped accepting data; kept apart from errors raised by the chunks."""


def _address(clamd_url: str | None) -> ClamdAddress:
    url = get_settings().CLAMD_URL if clamd_url is None else clamd_url
    if not url.strip():
        raise ClamdUrlError("CLAMD_URL is empty: scanning is disabled")
    return parse_clamd_url(url)


def _connect(address: ClamdAddress, timeout: float) -> socket.socket:
    try:
        if address.socket_path is None:
            return socket.create_connection((address.host, address.port), timeout=timeout)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.settimeout(timeout)
            conn.connect(address.socket_path)
        except OSError:
            conn.close()
            raise
        return conn
    except OSError as exc:
        raise ScannerUnavailable(f"clamd is unreachable: {exc.strerror or exc}") from None


def _frames(chunks: Iterable[bytes]) -> Iterator[memoryview]:
    for chunk in chunks:
        view = memoryview(chunk)
        # Empty chunks yield nothing: a zero-length frame would end the stream early.
        for start in range(0, len(view), MAX_FRAME_BYTES):
            yield view[start : start + MAX_FRAME_BYTES]


def _send(conn: socket.socket, data: bytes | memoryview) -> None:
    try:
        conn.sendall(data)
    except TimeoutError:
        raise ScannerUnavailable("clamd stopped reading the stream in time") from None
    except OSError:
        raise _ClamdHungUpError from None


def _read_reply(conn: socket.socket) -> str:
    reply = bytearray()
    while not reply.endswith(b"\0"):
        try:
            data = conn.recv(MAX_REPLY_BYTES)
        except TimeoutError:
            raise ScannerUnavailable("clamd did not answer in time") from None
        except OSError as exc:
            raise ScannerUnavailable(f"clamd dropped the connection: {exc.strerror}") from None
        if not data:
            break
        reply += data
        if len(reply) > MAX_REPLY_BYTES:
            raise ScannerUnavailable("clamd sent an oversized reply")
    if not reply:
        raise ScannerUnavailable("clamd closed the connection without answering")
    return reply.rstrip(b"\0").decode("utf-8", errors="replace").strip()


def _verdict(reply: str) -> ScanResult:
    if reply == _LIMIT_REPLY:
        raise ScanLimitExceeded("the file is larger than clamd's StreamMaxLength")
    if not reply.startswith(_STREAM_PREFIX):
        raise ScannerUnavailable(f"clamd gave an unexpected reply: {reply[:200]!r}")
    outcome = reply.removeprefix(_STREAM_PREFIX)
    if outcome == "OK":
        return ScanResult(clean=True)
    if outcome.endswith(" FOUND") and outcome.removesuffix(" FOUND").strip():
        return ScanResult(clean=False, signature=outcome.removesuffix(" FOUND").strip())
    raise ScannerUnavailable(f"clamd could not scan the stream: {outcome[:200]!r}")
