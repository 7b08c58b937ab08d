"""The real app over real HTTP: the local host as a subprocess, stdlib HTTP clients."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from tests.e2e.conftest import LocalHost
from tests.smtp_sink import running_smtp_sink

pytestmark = pytest.mark.e2e

StartLocalHost = Callable[..., LocalHost]
JSON = {"Content-Type": "application/json"}
PASSWORD = "correct horse battery staple 42"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def post(
    host: LocalHost, path: str, payload: object, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = dict(JSON)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    answer = host.request("POST", path, headers=headers, body=json.dumps(payload).encode())
    return answer.status, (answer.json() if answer.body else {})


def test_health_and_readiness_over_http(local_host: LocalHost) -> None:
    health = local_host.request("GET", "/api/v1/health")
    assert health.status == 200
    assert health.json()["status"] == "ok"
    for name, value in SECURITY_HEADERS.items():
        assert health.headers[name] == value
    assert health.headers["X-Request-ID"]
    ready = local_host.request("GET", "/api/v1/health/ready")
    assert ready.status == 200
    assert ready.json()["checks"]["database"]["status"] == "ok"


def test_docs_and_openapi_over_http(local_host: LocalHost) -> None:
    document = local_host.request("GET", "/api/v1/openapi.json")
    assert document.status == 200
    assert "/api/v1/auth/login" in document.json()["paths"]
    page = local_host.request("GET", "/api/docs")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")


def test_preflight_from_allowed_origin_is_granted(local_host: LocalHost) -> None:
    answer = local_host.request(
        "OPTIONS",
        "/api/v1/auth/login",
        headers={
            "Origin": "http://allowed.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert answer.status == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "http://allowed.example"
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert answer.headers["Access-Control-Allow-Headers"].lower() == "content-type"
    assert answer.headers["Access-Control-Allow-Credentials"] is None


def test_preflight_from_foreign_origin_is_not_granted(local_host: LocalHost) -> None:
    answer = local_host.request(
        "OPTIONS",
        "/api/v1/users/me",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert answer.status == 204
    assert answer.headers["Access-Control-Allow-Origin"] is None


def test_unknown_route_is_the_hosts_empty_404(local_host: LocalHost) -> None:
    answer = local_host.request("GET", "/api/v1/no-such-thing")
    assert answer.status == 404
    assert answer.body == b""
    assert "X-Request-ID" not in answer.headers


def test_body_errors_are_413_415_400_and_422(local_host: LocalHost) -> None:
    path = "/api/v1/auth/login"
    too_big = local_host.request(
        "POST", path, headers=JSON, body=b"{" + b" " * (1024 * 1024) + b"}"
    )
    assert too_big.status == 413
    wrong_type = local_host.request("POST", path, headers={"Content-Type": "text/plain"}, body=b"x")
    assert wrong_type.status == 415
    broken = local_host.request("POST", path, headers=JSON, body=b'{"email": ')
    assert broken.status == 400
    injected = local_host.request(
        "POST", path, headers=JSON, body=b'{"email": {"$ne": null}, "password": "x"}'
    )
    assert injected.status == 422
    for answer in (too_big, wrong_type, broken, injected):
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json()["request_id"] == answer.headers["X-Request-ID"]


def test_a_chunked_body_arrives_empty_as_on_azure(local_host: LocalHost) -> None:
    # Azure hands the worker no body without Content-Length: a streaming client's login is 4xx.
    connection = http.client.HTTPConnection(urlsplit(local_host.base_url).netloc, timeout=10)
    try:
        connection.putrequest("POST", "/api/v1/auth/login")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        payload = json.dumps({"email": "x@example.com", "password": PASSWORD}).encode()
        connection.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload))
        response = connection.getresponse()
        assert response.status == 400
        assert json.loads(response.read())["code"] == "invalid_json"
    finally:
        connection.close()


def test_an_empty_query_value_is_dropped_as_on_azure(local_host: LocalHost) -> None:
    account = {"email": "empty-query@example.com", "password": PASSWORD}
    assert post(local_host, "/api/v1/auth/register", account)[0] == 201
    status, tokens = post(local_host, "/api/v1/auth/login", account)
    assert status == 200
    answer = local_host.request(
        "GET",
        "/api/v1/uploads?limit=",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert answer.status == 200  # the default limit, not a 422 for ""


def test_register_login_me_refresh_logout(local_host: LocalHost) -> None:
    status, user = post(
        local_host, "/api/v1/auth/register", {"email": "e2e@example.com", "password": PASSWORD}
    )
    assert status == 201
    status, tokens = post(
        local_host, "/api/v1/auth/login", {"email": "E2E@example.com", "password": PASSWORD}
    )
    assert status == 200
    me = local_host.request(
        "GET", "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status == 200
    assert me.json()["id"] == user["id"]
    status, renewed = post(
        local_host, "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}
    )
    assert status == 200
    assert renewed["refresh_token"] != tokens["refresh_token"]
    status, _ = post(local_host, "/api/v1/auth/logout", {}, token=renewed["access_token"])
    assert status == 204
    after = local_host.request(
        "GET", "/api/v1/users/me", headers={"Authorization": f"Bearer {renewed['access_token']}"}
    )
    assert after.status == 401
    assert after.headers["WWW-Authenticate"] == "Bearer"
    status, _ = post(
        local_host, "/api/v1/auth/refresh", {"refresh_token": renewed["refresh_token"]}
    )
    assert status == 401


def test_mfa_setup_enable_and_login_with_a_totp_code(local_host: LocalHost) -> None:
    post(
        local_host, "/api/v1/auth/register", {"email": "mfa-e2e@example.com", "password": PASSWORD}
    )
    _, tokens = post(
        local_host, "/api/v1/auth/login", {"email": "mfa-e2e@example.com", "password": PASSWORD}
    )
    status, setup = post(local_host, "/api/v1/auth/mfa/setup", {}, token=tokens["access_token"])
    assert status == 200
    assert setup["qr_svg"].lstrip().startswith("<svg")
    secret = parse_qs(urlsplit(setup["otpauth_uri"]).query)["secret"][0]
    assert secret == setup["secret"]
    status, codes = post(
        local_host,
        "/api/v1/auth/mfa/enable",
        {"otp": pyotp.TOTP(secret).now()},
        token=tokens["access_token"],
    )
    assert status == 200
    assert len(codes["recovery_codes"]) == 10
    status, problem = post(
        local_host, "/api/v1/auth/login", {"email": "mfa-e2e@example.com", "password": PASSWORD}
    )
    assert (status, problem["code"]) == (401, "mfa_required")
    status, _ = post(
        local_host,
        "/api/v1/auth/login",
        {"email": "mfa-e2e@example.com", "password": PASSWORD, "otp": codes["recovery_codes"][0]},
    )
    assert status == 200


def test_forgotten_password_is_reset_through_the_mailed_link(
    start_local_host: StartLocalHost,
) -> None:
    with running_smtp_sink() as sink:
        host = start_local_host(
            {"SMTP_HOST": sink.host, "SMTP_PORT": str(sink.port), "SMTP_STARTTLS": "false"}
        )
        post(host, "/api/v1/auth/register", {"email": "forgot@example.com", "password": PASSWORD})
        status, _ = post(host, "/api/v1/auth/password/forgot", {"email": "forgot@example.com"})
        assert status == 202
        status, _ = post(host, "/api/v1/auth/password/forgot", {"email": "nobody@example.com"})
        assert status == 202
        mail = sink.wait_for_message()
        assert mail["To"] == "forgot@example.com"
        body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
        token = re.search(r"token=([A-Za-z0-9_\-]+)", body).group(1)  # type: ignore[union-attr]
        new_password = "a brand new passphrase 2026"
        status, _ = post(
            host, "/api/v1/auth/password/reset", {"token": token, "new_password": new_password}
        )
        assert status == 204
        status, _ = post(
            host, "/api/v1/auth/login", {"email": "forgot@example.com", "password": PASSWORD}
        )
        assert status == 401
        status, _ = post(
            host, "/api/v1/auth/login", {"email": "forgot@example.com", "password": new_password}
        )
        assert status == 200
        assert len(sink.messages) == 1, "no mail for an address without an account"
