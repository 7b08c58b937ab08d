"""Upload helpers for end-to-end tests: sign in, start an upload, wait for its outcome."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from tests.e2e.conftest import LocalHost

PASSWORD = "Quartz-lantern-58-drifts-north"
SETTLE_TIMEOUT_SECONDS = 60.0
FINAL = ("ready", "rejected", "failed")


@dataclass(frozen=True)
class Uploader:
    """A signed-in user of one local host."""

    host: LocalHost
    token: str

    def call(self, method: str, path: str, payload: object | None = None) -> Any:
        """Send one API request with the user's token; the parsed answer (or None)."""
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        body = json.dumps(payload).encode() if payload is not None else None
        answer = self.host.request(method, path, headers=headers, body=body)
        assert answer.status < 300, (answer.status, answer.body)
        return answer.json() if answer.body else None

    def start_upload(self, filename: str, content_type: str, size: int) -> dict[str, Any]:
        """POST /uploads; the created upload with its ``upload`` instructions."""
        body = {"filename": filename, "content_type": content_type, "size_bytes": size}
        created: dict[str, Any] = self.call("POST", "/api/v1/uploads", body)
        return created

    def get(self, upload_id: str) -> dict[str, Any]:
        """GET one upload."""
        upload: dict[str, Any] = self.call("GET", f"/api/v1/uploads/{upload_id}")
        return upload

    def wait_until_settled(self, upload_id: str) -> dict[str, Any]:
        """Poll until processing ended (ready, rejected or failed); fail with the host log."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            upload = self.get(upload_id)
            if upload["status"] in FINAL:
                return upload
            time.sleep(0.2)
        raise AssertionError(f"upload {upload_id} never settled:\n{self.host.output}")


def sign_up(host: LocalHost) -> Uploader:
    """Register and log in a fresh user over HTTP."""
    credentials = {"email": f"u{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD}
    headers = {"Content-Type": "application/json"}
    body = json.dumps(credentials).encode()
    registered = host.request("POST", "/api/v1/auth/register", headers=headers, body=body)
    assert registered.status == 201, registered.body
    login = host.request("POST", "/api/v1/auth/login", headers=headers, body=body)
    assert login.status == 200, login.body
    return Uploader(host, login.json()["access_token"])


def processing_runs(host: LocalHost, blob_name: str) -> int:
    """How many times the local host ran the upload processor on this blob."""
    return host.output.count(f"process_upload processed uploads/{blob_name} ")
