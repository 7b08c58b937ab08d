"""Helpers for upload tests: storage settings, starting an upload, PUT through its SAS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from devhost.azurite import azurite_connection_string
from shared.config import Settings
from shared.services import storage
from tests.api.client import ApiClient
from tests.api.conftest import Account
from tests.loopback import free_port
from tests.storage_support import change_settings, own_containers

TIMEOUT = 10
UPLOADS_URL = "/api/v1/uploads"


def use_storage(monkeypatch: pytest.MonkeyPatch, connection_string: str, **env: str) -> Settings:
    """Point the app at ``connection_string`` with containers of its own; keeps the database."""
    values = {"AZURE_STORAGE_CONNECTION_STRING": connection_string, **own_containers(), **env}
    return change_settings(monkeypatch, **values)


def unreachable_account() -> str:
    """An account key on a port nobody serves: SAS signing works, storage calls do not."""
    return azurite_connection_string(free_port())


def start_upload(
    client: ApiClient,
    account: Account,
    *,
    filename: str = "picture.png",
    content_type: str = "image/png",
    size_bytes: int = 100,
) -> dict[str, Any]:
    """POST /uploads and return the created upload (with its ``upload`` instructions)."""
    response = client.post(
        UPLOADS_URL,
        json={"filename": filename, "content_type": content_type, "size_bytes": size_bytes},
        token=account.access_token,
    )
    assert response.status == 201, response.body
    body: dict[str, Any] = response.json
    return body


def put_bytes(upload: dict[str, Any], data: bytes) -> requests.Response:
    """PUT ``data`` like the browser: to the SAS URL with the given headers."""
    instructions = upload["upload"]
    assert instructions["method"] == "PUT"
    return requests.put(
        instructions["url"], data=data, headers=instructions["headers"], timeout=TIMEOUT
    )


def upload_file(
    client: ApiClient,
    account: Account,
    path: Path,
    *,
    filename: str | None = None,
    content_type: str,
    declared_size: int | None = None,
) -> dict[str, Any]:
    """Start an upload for ``path`` and PUT its bytes; returns the upload as created."""
    data = path.read_bytes()
    upload = start_upload(
        client,
        account,
        filename=filename or path.name,
        content_type=content_type,
        size_bytes=declared_size if declared_size is not None else len(data),
    )
    response = put_bytes(upload, data)
    assert response.status_code == 201, response.text
    return upload


def blob_name(upload: dict[str, Any]) -> str:
    return f"{upload['owner_id']}/{upload['id']}"


def blob_exists(container: str, name: str) -> bool:
    try:
        storage.blob_properties(container, name)
    except storage.BlobNotFound:
        return False
    return True
