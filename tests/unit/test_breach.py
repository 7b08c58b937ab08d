"""The breached-password check, against a local HTTP server speaking the HIBP range API."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.config import get_settings
from shared.services import breach
from shared.services.external_api import ExternalApiError, get_text
from tests.conftest import reload_settings
from tests.loopback import free_port

PASSWORD = "correct horse battery staple"
DIGEST = hashlib.sha1(PASSWORD.encode(), usedforsecurity=False).hexdigest().upper()
PREFIX, SUFFIX = DIGEST[:5], DIGEST[5:]
OTHER_SUFFIXES = ["0018A45C4D1DEF81644B54AB7F969B88D65", "00D4F6E8FA6EECAD2A3AA415EEC418D38EC"]


@dataclass
class Exchange:
    """What the fake range API saw, and what it should answer next."""

    answers: list[tuple[int, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    stall: threading.Event | None = None


def _handler_for(exchange: Exchange) -> type[BaseHTTPRequestHandler]:
    class RangeHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            exchange.paths.append(self.path)
            exchange.headers.append(dict(self.headers.items()))
            if exchange.stall is not None:
                exchange.stall.wait(timeout=10)
            status, body = exchange.answers.pop(0) if exchange.answers else (200, "")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(body.encode())
            except OSError:
                pass  # the client gave up waiting, which is what the slow test wants

        def log_message(self, format: str, *args: object) -> None:
            pass

    return RangeHandler


@pytest.fixture
def range_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Exchange]:
    """A real HTTP server on loopback; PASSWORD_BREACH_API_URL points at it."""
    exchange = Exchange()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(exchange))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    reload_settings(
        monkeypatch,
        PASSWORD_BREACH_API_URL=f"http://127.0.0.1:{server.server_port}/range/",
        PASSWORD_BREACH_CHECK="true",
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
    )
    yield exchange
    if exchange.stall is not None:
        exchange.stall.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _range_body(*entries: tuple[str, int]) -> str:
    return "\r\n".join(f"{suffix}:{count}" for suffix, count in entries)


def test_breached_password_is_reported(range_api: Exchange) -> None:
    range_api.answers.append((200, _range_body((OTHER_SUFFIXES[0], 3), (SUFFIX, 42))))

    assert breach.is_password_breached(PASSWORD) is True


def test_password_absent_from_its_range_is_not_breached(range_api: Exchange) -> None:
    range_api.answers.append((200, _range_body((OTHER_SUFFIXES[0], 3), (OTHER_SUFFIXES[1], 7))))

    assert breach.is_password_breached(PASSWORD) is False


def test_padding_entry_with_zero_count_is_not_a_breach(range_api: Exchange) -> None:
    range_api.answers.append((200, _range_body((OTHER_SUFFIXES[0], 3), (SUFFIX, 0))))

    assert breach.is_password_breached(PASSWORD) is False


def test_lowercase_suffixes_in_the_response_still_match(range_api: Exchange) -> None:
    range_api.answers.append((200, _range_body((SUFFIX.lower(), 5))))

    assert breach.is_password_breached(PASSWORD) is True


def test_only_the_five_character_hash_prefix_is_sent(range_api: Exchange) -> None:
    range_api.answers.append((200, _range_body((SUFFIX, 1))))

    breach.is_password_breached(PASSWORD)

    assert range_api.paths == [f"/range/{PREFIX}"]
    sent = " ".join(range_api.paths + [str(h) for h in range_api.headers]).upper()
    assert SUFFIX not in sent
    assert PASSWORD.upper() not in sent


def test_padding_is_requested_and_the_client_names_itself(range_api: Exchange) -> None:
    range_api.answers.append((200, _range_body((SUFFIX, 1))))

    breach.is_password_breached(PASSWORD)

    assert range_api.headers[0]["Add-Padding"] == "true"
    assert range_api.headers[0]["User-Agent"].startswith("runtime-traitors-backend")


def test_server_errors_fail_open_after_exactly_two_attempts(
    range_api: Exchange, caplog: pytest.LogCaptureFixture
) -> None:
    range_api.answers.extend([(500, "boom"), (500, "boom"), (200, _range_body((SUFFIX, 9)))])

    with caplog.at_level(logging.WARNING, logger="shared.services.breach"):
        assert breach.is_password_breached(PASSWORD) is False

    assert len(range_api.paths) == 2
    assert "breach check skipped" in caplog.text
    for secret in (PASSWORD, DIGEST, PREFIX, SUFFIX):
        assert secret not in caplog.text


def test_one_failed_attempt_is_retried_and_its_answer_used(range_api: Exchange) -> None:
    range_api.answers.extend([(503, "busy"), (200, _range_body((SUFFIX, 9)))])

    assert breach.is_password_breached(PASSWORD) is True
    assert len(range_api.paths) == 2


def test_rate_limited_answer_is_retried(range_api: Exchange) -> None:
    range_api.answers.extend([(429, "slow down"), (200, _range_body((SUFFIX, 9)))])

    assert breach.is_password_breached(PASSWORD) is True
    assert len(range_api.paths) == 2


def test_server_slower_than_the_timeout_fails_open(
    range_api: Exchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(breach, "TIMEOUT_SECONDS", 0.2)
    range_api.stall = threading.Event()
    range_api.answers.extend([(200, _range_body((SUFFIX, 9)))] * 2)

    assert breach.is_password_breached(PASSWORD) is False
    assert len(range_api.paths) == 2


def test_unreachable_service_fails_open(
    range_api: Exchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    reload_settings(monkeypatch, PASSWORD_BREACH_API_URL=f"http://127.0.0.1:{free_port()}/range/")

    assert breach.is_password_breached(PASSWORD) is False


def test_non_http_api_url_is_never_opened(
    range_api: Exchange, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reload_settings(monkeypatch, PASSWORD_BREACH_API_URL=f"file://{tmp_path}/")

    assert breach.is_password_breached(PASSWORD) is False
    assert range_api.paths == []


def test_breach_check_enabled_follows_the_setting(
    range_api: Exchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert breach.breach_check_enabled() is True

    reload_settings(monkeypatch, PASSWORD_BREACH_CHECK="false")

    assert breach.breach_check_enabled() is False


def test_client_error_is_not_retried(range_api: Exchange) -> None:
    range_api.answers.extend([(404, "no such range"), (200, "ok")])
    url = get_settings().PASSWORD_BREACH_API_URL + "ABCDE"

    with pytest.raises(ExternalApiError, match="HTTP 404"):
        get_text(url, timeout=2, retries=1)

    assert len(range_api.paths) == 1
