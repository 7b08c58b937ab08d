"""One Blob Storage client per process, and the credential it signs in with.

Two ways to reach the account, chosen by settings:

- ``AZURE_STORAGE_ACCOUNT_URL`` set (production): ``DefaultAzureCredential``, so no
  account key exists anywhere (SAS are signed with a user delegation key, see ``sas``);
- otherwise ``AZURE_STORAGE_CONNECTION_STRING`` with an account key (Azurite locally).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobServiceClient, ExponentialRetry

from shared.config import Settings, get_settings
from shared.services.storage.errors import (
    StorageNotConfigured,
    StorageUnavailable,
    translated_errors,
)

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

CONNECT_TIMEOUT_SECONDS = 5
PING_TIMEOUT_SECONDS = 3
UPLOAD_BLOCK_BYTES = 4 * 1024 * 1024

_lock = threading.Lock()
_client: BlobServiceClient | None = None
_credential: Any = None  # a DefaultAzureCredential; Any keeps azure.identity unimported


def storage_configured() -> bool:
    """Whether settings name a storage account at all."""
    settings = get_settings()
    return bool(settings.AZURE_STORAGE_ACCOUNT_URL or settings.AZURE_STORAGE_CONNECTION_STRING)


def service() -> BlobServiceClient:
    """The process's client for the configured account (built on first use)."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = _build_client(get_settings())
    return _client


def blob_client(container: str, name: str) -> BlobClient:
    """A client for one blob of the configured account."""
    return service().get_blob_client(container, name)


def reset_storage_clients() -> None:
    """Close and forget the cached client and credential (tests, settings changes)."""
    global _client, _credential
    with _lock:
        if _client is not None:
            _client.close()
        if _credential is not None:
            _credential.close()
        _client = None
        _credential = None


@contextmanager
def client_for(connection_string: str | None) -> Iterator[BlobServiceClient]:
    """The process client, or a short-lived one for an explicit connection string."""
    if connection_string is None:
        yield service()
        return
    client = BlobServiceClient.from_connection_string(connection_string)
    try:
        yield client
    finally:
        client.close()


def ping() -> float:
    """Latency in ms of one uploads-container lookup; raises StorageUnavailable."""
    container = service().get_container_client(get_settings().UPLOADS_CONTAINER)
    started = time.perf_counter()
    with translated_errors():
        try:
            # No retries: readiness must answer quickly, the prober asks again.
            container.get_container_properties(
                retry_total=0, connection_timeout=PING_TIMEOUT_SECONDS
            )
        except ResourceNotFoundError:
            raise StorageUnavailable("the uploads container does not exist") from None
    return (time.perf_counter() - started) * 1000


def _build_client(settings: Settings) -> BlobServiceClient:
    global _credential
    # The SDK logs every request and response at INFO: noise in Application Insights.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    # Fail fast and retry briefly: callers (HTTP requests, the blob trigger) retry
    # on their own, and the SDK default waits up to a minute.
    options: dict[str, Any] = {
        "retry_policy": ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=2),
        "connection_timeout": CONNECT_TIMEOUT_SECONDS,
        # Files above this go up in blocks of this size, one at a time: the SDK would
        # otherwise read a file of up to 64 MiB whole for a single PUT.
        "max_single_put_size": UPLOAD_BLOCK_BYTES,
        "max_block_size": UPLOAD_BLOCK_BYTES,
    }
    if settings.AZURE_STORAGE_ACCOUNT_URL:
        _credential = _default_credential()
        return BlobServiceClient(
            settings.AZURE_STORAGE_ACCOUNT_URL, credential=_credential, **options
        )
    if settings.AZURE_STORAGE_CONNECTION_STRING:
        return BlobServiceClient.from_connection_string(
            settings.AZURE_STORAGE_CONNECTION_STRING, **options
        )
    raise StorageNotConfigured("set AZURE_STORAGE_ACCOUNT_URL or AZURE_STORAGE_CONNECTION_STRING")


def _default_credential() -> TokenCredential:
    # azure.identity is heavy and only the production path needs it.
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()
