"""Every documented route over HTTP, and an upload that reaches `ready` through the blob trigger.

Runs against the local host with Azurite by default. With E2E_BASE_URL set it runs
against that host instead - the real Functions host in Docker (docker-compose.yml, the
`real-host` job of the test workflow) - and then needs E2E_ADMIN_EMAIL and
E2E_ADMIN_PASSWORD, the first superuser that scripts/init_db.py created there. Every
account it makes has a fresh address, so it can run against a host that keeps its data.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from tests.e2e.conftest import Answer, LocalHost, assert_stopped_cleanly, launch_local_host
from tests.media_samples import write_png

pytestmark = [pytest.mark.e2e, pytest.mark.azurite]

PASSWORD = "Every route, once: 31 lanterns"
LOCAL_ADMIN = ("route-admin@example.com", "Admin of every route: 47 kites")
READY_TIMEOUT_SECONDS = 180.0  # a container host starts slower than the local one
# The real host's blob trigger (LogsAndContainerScan on Azurite) scans with back-off.
EXTERNAL_UPLOAD_TIMEOUT_SECONDS = 240.0
LOCAL_UPLOAD_TIMEOUT_SECONDS = 30.0


@dataclass
class Api:
    """The host under test, and every (method, path) this module sent it."""

    host: LocalHost
    admin: tuple[str, str]
    upload_timeout: float
    sent: list[tuple[str, str]] = field(default_factory=list)

    def call(
        self, method: str, path: str, payload: object = None, *, token: str | None = None
    ) -> Answer:
        """One request; a JSON body when a payload is given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(payload).encode()
        self.sent.append((method, urlsplit(path).path))
        return self.host.request(method, path, headers=headers, body=body)

    def sign_up(self) -> tuple[str, dict[str, Any]]:
        """A new account, signed in: its email and tokens."""
        email = f"route-{uuid.uuid4().hex[:10]}@example.com"
        registered = self.call(
            "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD}
        )
        assert registered.status == 201, registered.body
        return email, self.login(email, PASSWORD)

    def login(self, email: str, password: str) -> dict[str, Any]:
        """Tokens for these credentials."""
        answer = self.call("POST", "/api/v1/auth/login", {"email": email, "password": password})
        assert answer.status == 200, answer.body
        tokens: dict[str, Any] = answer.json()
        return tokens


def _wait_until_healthy(host: LocalHost) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            if host.request("GET", "/api/v1/health").status == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(1)
    pytest.fail(f"{host.base_url} did not answer GET /api/v1/health")


@pytest.fixture(scope="module")
def api(
    external_base_url: str | None, tmp_path_factory: pytest.TempPathFactory, request: Any
) -> Iterator[Api]:
    """E2E_BASE_URL's host, or a local host with Azurite, its blob watcher and an admin."""
    if external_base_url:
        admin = (os.environ.get("E2E_ADMIN_EMAIL", ""), os.environ.get("E2E_ADMIN_PASSWORD", ""))
        if not all(admin):
            pytest.fail("E2E_BASE_URL needs E2E_ADMIN_EMAIL and E2E_ADMIN_PASSWORD")
        host = LocalHost(external_base_url, cast(Any, None))  # requests only: nothing to stop
        _wait_until_healthy(host)
        yield Api(host, admin, EXTERNAL_UPLOAD_TIMEOUT_SECONDS)
        return
    azurite: str = request.getfixturevalue("azurite")
    local = launch_local_host(
        settings=tmp_path_factory.mktemp("every-route") / "absent.json",
        env={
            "AZURE_STORAGE_CONNECTION_STRING": azurite,
            "UploadsStorage": azurite,
            "UPLOADS_TRIGGER_SOURCE": "LogsAndContainerScan",
            "LOCAL_HOST_BLOB_POLL_SECONDS": "0.2",
            "FIRST_SUPERUSER_EMAIL": LOCAL_ADMIN[0],
            "FIRST_SUPERUSER_PASSWORD": LOCAL_ADMIN[1],
            "BCRYPT_ROUNDS": "4",
        },
    )
    yield Api(local, LOCAL_ADMIN, LOCAL_UPLOAD_TIMEOUT_SECONDS)
    assert_stopped_cleanly(local)


def test_health_readiness_and_docs(api: Api) -> None:
    health = api.call("GET", "/api/v1/health")
    assert health.status == 200
    assert health.json()["status"] == "ok"
    ready = api.call("GET", "/api/v1/health/ready")
    assert ready.status == 200, ready.body
    assert ready.json()["checks"]["database"]["status"] == "ok"
    assert ready.json()["checks"]["storage"]["status"] == "ok"
    document = api.call("GET", "/api/v1/openapi.json")
    assert document.status == 200
    assert document.json()["openapi"].startswith("3.1")
    page = api.call("GET", "/api/docs")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")


def test_sign_up_login_me_refresh_logout(api: Api) -> None:
    email, tokens = api.sign_up()
    me = api.call("GET", "/api/v1/users/me", token=tokens["access_token"])
    assert me.status == 200
    assert me.json()["email"] == email
    renewed = api.call("POST", "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert renewed.status == 200
    fresh = renewed.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    reused = api.call("POST", "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert (reused.status, reused.json()["code"]) == (401, "token_reused")
    relogin = api.login(email, PASSWORD)
    logout = api.call("POST", "/api/v1/auth/logout", {}, token=relogin["access_token"])
    assert logout.status == 204
    after = api.call("GET", "/api/v1/users/me", token=relogin["access_token"])
    assert after.status == 401


def test_own_account_routes(api: Api) -> None:
    email, tokens = api.sign_up()
    access = tokens["access_token"]
    renamed = api.call("PATCH", "/api/v1/users/me", {"full_name": "Renamed"}, token=access)
    assert renamed.status == 200
    assert renamed.json()["full_name"] == "Renamed"
    new_password = PASSWORD + " and a new one"
    changed = api.call(
        "POST",
        "/api/v1/users/me/password",
        {"current_password": PASSWORD, "new_password": new_password},
        token=access,
    )
    assert changed.status == 204
    fresh = api.login(email, new_password)
    everywhere = api.call("POST", "/api/v1/auth/logout-all", token=fresh["access_token"])
    assert everywhere.status == 204
    last = api.login(email, new_password)
    deleted = api.call(
        "DELETE", "/api/v1/users/me", {"password": new_password}, token=last["access_token"]
    )
    assert deleted.status == 204
    gone = api.call("POST", "/api/v1/auth/login", {"email": email, "password": new_password})
    assert gone.status == 401


def test_password_reset_routes_never_reveal_accounts(api: Api) -> None:
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    forgot = api.call("POST", "/api/v1/auth/password/forgot", {"email": email})
    assert forgot.status == 202
    reset = api.call(
        "POST",
        "/api/v1/auth/password/reset",
        {"token": secrets.token_urlsafe(32), "new_password": PASSWORD},
    )
    assert (reset.status, reset.json()["code"]) == (400, "invalid_token")


def test_mfa_setup_enable_and_disable(api: Api) -> None:
    _, tokens = api.sign_up()
    access = tokens["access_token"]
    setup = api.call("POST", "/api/v1/auth/mfa/setup", {}, token=access)
    assert setup.status == 200
    secret = parse_qs(urlsplit(setup.json()["otpauth_uri"]).query)["secret"][0]
    enabled = api.call(
        "POST", "/api/v1/auth/mfa/enable", {"otp": pyotp.TOTP(secret).now()}, token=access
    )
    assert enabled.status == 200
    codes = enabled.json()["recovery_codes"]
    disabled = api.call(
        "POST", "/api/v1/auth/mfa/disable", {"password": PASSWORD, "otp": codes[0]}, token=access
    )
    assert disabled.status == 204


def test_admin_routes(api: Api) -> None:
    admin = api.login(*api.admin)["access_token"]
    email = f"managed-{uuid.uuid4().hex[:8]}@example.com"
    created = api.call(
        "POST", "/api/v1/users", {"email": email, "password": PASSWORD, "role": "user"}, token=admin
    )
    assert created.status == 201, created.body
    user_id = created.json()["id"]
    listed = api.call("GET", f"/api/v1/users?q={email}", token=admin)
    assert listed.status == 200
    assert [u["id"] for u in listed.json()["items"]] == [user_id]
    fetched = api.call("GET", f"/api/v1/users/{user_id}", token=admin)
    assert fetched.status == 200
    patched = api.call("PATCH", f"/api/v1/users/{user_id}", {"full_name": "Managed"}, token=admin)
    assert patched.status == 200
    assert patched.json()["full_name"] == "Managed"
    revoked = api.call("POST", f"/api/v1/admin/users/{user_id}/revoke-sessions", token=admin)
    assert revoked.status == 204
    unlocked = api.call("POST", f"/api/v1/admin/users/{user_id}/unlock", token=admin)
    assert unlocked.status == 204
    stats = api.call("GET", "/api/v1/admin/stats", token=admin)
    assert stats.status == 200
    assert stats.json()["users"]["total"] >= 2
    audit = api.call("GET", "/api/v1/admin/audit-log?action=user.created", token=admin)
    assert audit.status == 200
    assert audit.json()["items"]
    deleted = api.call("DELETE", f"/api/v1/users/{user_id}", token=admin)
    assert deleted.status == 204
    assert api.call("GET", f"/api/v1/users/{user_id}", token=admin).status == 404


def test_an_upload_put_through_its_sas_becomes_ready(api: Api, tmp_path: Path) -> None:
    _, tokens = api.sign_up()
    access = tokens["access_token"]
    picture = write_png(tmp_path).read_bytes()
    created = api.call(
        "POST",
        "/api/v1/uploads",
        {"filename": "picture.png", "content_type": "image/png", "size_bytes": len(picture)},
        token=access,
    )
    assert created.status == 201, created.body
    upload = created.json()
    instructions = upload["upload"]
    put = urllib.request.Request(
        instructions["url"], data=picture, method="PUT", headers=instructions["headers"]
    )
    with urllib.request.urlopen(put, timeout=30) as stored:
        assert stored.status == 201

    deadline = time.monotonic() + api.upload_timeout
    current = upload
    while current["status"] in {"pending", "processing"} and time.monotonic() < deadline:
        time.sleep(0.5)
        answer = api.call("GET", f"/api/v1/uploads/{upload['id']}", token=access)
        assert answer.status == 200
        current = answer.json()
    assert current["status"] == "ready", current
    assert current["metadata"] == {"width": 60, "height": 40, "format": "png"}
    with urllib.request.urlopen(current["download_url"], timeout=30) as download:
        assert download.read()[:8] == b"\x89PNG\r\n\x1a\n"

    listed = api.call("GET", "/api/v1/uploads?status=ready", token=access)
    assert listed.status == 200
    assert [u["id"] for u in listed.json()["items"]] == [upload["id"]]
    deleted = api.call("DELETE", f"/api/v1/uploads/{upload['id']}", token=access)
    assert deleted.status == 204
    assert api.call("GET", f"/api/v1/uploads/{upload['id']}", token=access).status == 404


def test_this_module_sent_every_documented_route(api: Api) -> None:
    """Runs last: each operation in the OpenAPI document was exercised above."""
    document = api.call("GET", "/api/v1/openapi.json").json()
    missed = []
    for template, operations in document["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        for method in operations:
            if method.upper() not in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                continue
            if not any(m == method.upper() and pattern.match(p) for m, p in api.sent):
                missed.append(f"{method.upper()} {template}")
    assert missed == []
