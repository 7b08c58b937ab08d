"""Blob Storage: one client per process, SAS URLs for browsers, streaming helpers.

Two ways to reach the account, chosen by settings:

- ``AZURE_STORAGE_ACCOUNT_URL`` set (production): ``DefaultAzureCredential`` and SAS
  signed with a user delegation key, so no account key exists anywhere. The key is
  requested valid for 24 hours and replaced once less than an hour of it is left
  (never later than the expiry of the SAS being signed), i.e. about once a day.
- otherwise ``AZURE_STORAGE_CONNECTION_STRING`` with an account key (Azurite locally):
  SAS signed with that key.

Errors that mean "storage is not reachable or not usable right now" become
``StorageUnavailable`` (callers answer 503); a missing blob is ``BlobNotFound`` and a
blob replaced behind our back (ETag mismatch) is ``BlobChanged``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import (
    BlobClient,
    BlobSasPermissions,
    BlobServiceClient,
    ContentSettings,
    CorsRule,
    ExponentialRetry,
    UserDelegationKey,
    generate_blob_sas,
)

from shared.config import Settings, get_settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

CHUNK_SIZE = 4 * 1024 * 1024
CLOCK_SKEW = timedelta(minutes=5)
DELEGATION_KEY_LIFETIME = timedelta(hours=24)
DELEGATION_KEY_REFRESH_MARGIN = timedelta(hours=1)
READ_SAS_MAX_MINUTES = 60
COPY_POLL_SECONDS = 0.2
COPY_TIMEOUT_SECONDS = 300.0
CONNECT_TIMEOUT_SECONDS = 5
PING_TIMEOUT_SECONDS = 3
CORS_MAX_AGE_SECONDS = 3600
CORS_METHODS = ["PUT", "GET", "HEAD", "OPTIONS"]
# What the Azure SDKs send (conditional and checksum headers included) and read back.
CORS_ALLOWED_HEADERS = [
    "x-ms-*",
    "content-type",
    "content-md5",
    "if-none-match",
    "if-match",
    "if-modified-since",
    "if-unmodified-since",
    "range",
]
CORS_EXPOSED_HEADERS = ["etag", "last-modified", "content-length", "content-type", "x-ms-*"]

# Blob names are built only from server-issued ids: no slashes, dots or escapes that
# could walk into another owner's prefix.
_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]{1,255}")


# The SDK logs every request and response at INFO: noise in Application Insights.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)


class StorageError(RuntimeError):
    """Base class for Blob Storage failures that callers handle."""


class StorageUnavailable(StorageError):
    """Storage is unreachable, failing (5xx) or refusing our identity: answer 503."""


class StorageNotConfigured(StorageUnavailable):
    """Neither AZURE_STORAGE_ACCOUNT_URL nor AZURE_STORAGE_CONNECTION_STRING is set."""


class BlobNotFound(StorageError):
    """The blob or its container does not exist."""


class BlobChanged(StorageError):
    """The blob no longer has the ETag the caller pinned (it was overwritten)."""


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """Where and how a browser PUTs one upload."""

    url: str
    blob_name: str
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """The facts about a blob the upload processor decides on."""

    size: int
    etag: str
    content_type: str | None


@dataclass(frozen=True, slots=True)
class BlobRef:
    """One listed blob."""

    name: str
    etag: str
    size: int
    last_modified: datetime | None = None


class BinaryWriter(Protocol):
    """Anything with ``write(bytes)``: an open file, a hash wrapper, a BytesIO."""

    def write(self, data: bytes, /) -> object: ...


@dataclass(slots=True)
class _DelegationKey:
    key: UserDelegationKey
    expires_at: datetime


_lock = threading.Lock()
_client: BlobServiceClient | None = None
_credential: Any = None  # a DefaultAzureCredential; Any keeps azure.identity unimported
_delegation_key: _DelegationKey | None = None


def storage_configured() -> bool:
    """Whether settings name a storage account at all."""
    settings = get_settings()
    return bool(settings.AZURE_STORAGE_ACCOUNT_URL or settings.AZURE_STORAGE_CONNECTION_STRING)


def reset_storage_clients() -> None:
    """Close and forget the cached client, credential and delegation key (tests)."""
    global _client, _credential, _delegation_key
    with _lock:
        if _client is not None:
            _client.close()
        if _credential is not None:
            _credential.close()
        _client = None
        _credential = None
        _delegation_key = None


def upload_blob_name(owner_id: str, upload_id: str) -> str:
    """The server-chosen name of an upload's blob: ``{owner_id}/{upload_id}``."""
    for label, value in (("owner_id", owner_id), ("upload_id", upload_id)):
        if not _SAFE_TOKEN.fullmatch(value):
            raise ValueError(f"{label} must be 1-128 letters, digits, '_' or '-'")
    return f"{owner_id}/{upload_id}"


def upload_sas(
    *, owner_id: str, upload_id: str, content_type: str, not_after: datetime | None = None
) -> UploadTarget:
    """A create-only SAS for exactly one new blob in the uploads container.

    It expires ``UPLOAD_URL_TTL_SECONDS`` from now, or at ``not_after`` if that is sooner
    (the end of the upload's pending window: no URL outlives its upload).
    """
    blob_name = upload_blob_name(owner_id, upload_id)
    if not _HEADER_VALUE.fullmatch(content_type):
        raise ValueError("content_type must be a printable ASCII header value")
    settings = get_settings()
    # SAS times have whole-second precision; report exactly what was signed.
    now = _utcnow().replace(microsecond=0)
    expires_at = now + timedelta(seconds=settings.UPLOAD_URL_TTL_SECONDS)
    if not_after is not None:
        # Rounded down: a URL may end a little early, never after its upload's window.
        expires_at = min(expires_at, not_after.astimezone(UTC).replace(microsecond=0))
        if expires_at <= now:
            raise ValueError("the upload's pending window has ended")
    # Create-only ("c"): Put Blob succeeds for a new blob and is refused once the
    # blob exists, so a leaked URL can neither overwrite nor read what was uploaded.
    # From service version 2026-04-06 "c" also allows Put Block / Put Block List (the
    # SDKs' block uploads) and, as it always did, Snapshot Blob: the processor deletes
    # every snapshot with the blob. Never add "w" here: it would allow overwrites.
    url = _signed_url(
        settings,
        container=settings.UPLOADS_CONTAINER,
        blob_name=blob_name,
        permission=BlobSasPermissions(create=True),
        now=now,
        expires_at=expires_at,
    )
    headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": content_type}
    return UploadTarget(url=url, blob_name=blob_name, headers=headers, expires_at=expires_at)


def read_sas_url(*, container: str, blob_name: str, minutes: int = 5) -> str:
    """A read-only SAS URL for one blob, valid ``minutes`` (1..60)."""
    if not 1 <= minutes <= READ_SAS_MAX_MINUTES:
        raise ValueError(f"minutes must be between 1 and {READ_SAS_MAX_MINUTES}")
    now = _utcnow().replace(microsecond=0)
    return _signed_url(
        get_settings(),
        container=container,
        blob_name=blob_name,
        permission=BlobSasPermissions(read=True),
        now=now,
        expires_at=now + timedelta(minutes=minutes),
    )


def ensure_containers(*, connection_string: str | None = None) -> None:
    """Create the uploads, files, thumbnails and quarantine containers if missing."""
    settings = get_settings()
    names = (
        settings.UPLOADS_CONTAINER,
        settings.FILES_CONTAINER,
        settings.THUMBNAILS_CONTAINER,
        settings.QUARANTINE_CONTAINER,
    )
    with _client_for(connection_string) as client, _translated_errors():
        for name in names:
            with suppress(ResourceExistsError):
                client.create_container(name)


def configure_cors(origins: list[str], *, connection_string: str | None = None) -> None:
    """Let browsers at ``origins`` PUT and GET blobs directly (local accounts only)."""
    if get_settings().is_production:
        # Production CORS belongs to the infrastructure definition, not to app code.
        raise RuntimeError("configure_cors is for local accounts; set production CORS in infra")
    rules = []
    if origins:
        rules.append(
            CorsRule(
                allowed_origins=list(origins),
                allowed_methods=CORS_METHODS,
                allowed_headers=CORS_ALLOWED_HEADERS,
                exposed_headers=CORS_EXPOSED_HEADERS,
                max_age_in_seconds=CORS_MAX_AGE_SECONDS,
            )
        )
    with _client_for(connection_string) as client, _translated_errors():
        client.set_service_properties(cors=rules)


def ping() -> float:
    """Latency in ms of one uploads-container lookup; raises StorageUnavailable."""
    container = _service().get_container_client(get_settings().UPLOADS_CONTAINER)
    started = time.perf_counter()
    with _translated_errors():
        try:
            # No retries: readiness must answer quickly, the prober asks again.
            container.get_container_properties(
                retry_total=0, connection_timeout=PING_TIMEOUT_SECONDS
            )
        except ResourceNotFoundError:
            raise StorageUnavailable("the uploads container does not exist") from None
    return (time.perf_counter() - started) * 1000


def blob_properties(container: str, name: str) -> BlobInfo:
    """Size, ETag and content type of a blob; BlobNotFound if it is missing."""
    with _translated_errors():
        props = _blob(container, name).get_blob_properties()
    return BlobInfo(
        size=props.size,
        etag=_require_etag(props.etag),
        content_type=props.content_settings.content_type,
    )


def iter_blob_chunks(
    container: str, name: str, *, etag: str | None = None, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """Stream a blob in ranged reads of ``chunk_size``, all pinned to one ETag."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    blob = _blob(container, name)
    with _translated_errors():
        props = blob.get_blob_properties(**_pinned(etag))
        pinned = _pinned(_require_etag(props.etag))
        for offset in range(0, props.size, chunk_size):
            length = min(chunk_size, props.size - offset)
            # One ranged GET per chunk keeps memory at chunk_size whatever the blob size;
            # the If-Match on each makes a concurrent overwrite fail instead of mixing.
            yield blob.download_blob(offset=offset, length=length, **pinned).readall()


def download_to_file(container: str, name: str, fileobj: BinaryWriter, *, etag: str | None) -> int:
    """Copy a blob into ``fileobj`` chunk by chunk; returns the bytes written."""
    written = 0
    for chunk in iter_blob_chunks(container, name, etag=etag):
        fileobj.write(chunk)
        written += len(chunk)
    return written


def set_blob_http_headers(
    container: str, name: str, *, content_type: str, content_disposition: str, etag: str
) -> str:
    """Set the headers a blob is served with, if it still has ``etag``; the new ETag."""
    settings = ContentSettings(content_type=content_type, content_disposition=content_disposition)
    with _translated_errors():
        result = _blob(container, name).set_http_headers(settings, **_pinned(etag))
    return _require_etag(result.get("etag"))


def move_blob(
    src_container: str, name: str, dst_container: str, dst_name: str | None = None
) -> str:
    """Server-side copy then delete; the source goes only after the copy succeeded.

    Retrying a move that already completed is a no-op, so callers can simply retry.
    """
    source = _blob(src_container, name)
    target = _blob(dst_container, dst_name or name)
    with _translated_errors():
        try:
            etag = _require_etag(source.get_blob_properties().etag)
        except ResourceNotFoundError:
            if target.exists():
                return target.blob_name
            raise
        # A short read SAS lets the copy work under either credential type.
        source_url = read_sas_url(container=src_container, blob_name=name, minutes=15)
        target.start_copy_from_url(
            source_url, source_etag=etag, source_match_condition=MatchConditions.IfNotModified
        )
        _wait_for_copy(target)
        # Pinned delete: if someone replaced the source meanwhile, keep the new version.
        source.delete_blob(delete_snapshots="include", **_pinned(etag))
    return target.blob_name


def upload_bytes(container: str, name: str, data: bytes, content_type: str) -> str:
    """Write (or replace) a small blob from memory; returns its ETag."""
    with _translated_errors():
        result = _blob(container, name).upload_blob(
            data, overwrite=True, content_settings=ContentSettings(content_type=content_type)
        )
    return _require_etag(result.get("etag"))


def upload_file(container: str, name: str, path: str | Path, content_type: str) -> str:
    """Write (or replace) a blob from a local file, streamed; returns its ETag."""
    file_path = Path(path)
    with file_path.open("rb") as stream, _translated_errors():
        result = _blob(container, name).upload_blob(
            stream,
            length=file_path.stat().st_size,
            overwrite=True,
            content_settings=ContentSettings(content_type=content_type),
        )
    return _require_etag(result.get("etag"))


def replace_blob_from_file(
    container: str,
    name: str,
    path: str | Path,
    *,
    etag: str,
    content_type: str,
    content_disposition: str,
) -> str:
    """Overwrite a blob that still has ``etag`` with a local file, streamed; the new ETag."""
    file_path = Path(path)
    settings = ContentSettings(content_type=content_type, content_disposition=content_disposition)
    with file_path.open("rb") as stream, _translated_errors():
        result = _blob(container, name).upload_blob(
            stream,
            length=file_path.stat().st_size,
            overwrite=True,
            content_settings=settings,
            **_pinned(etag),
        )
    return _require_etag(result.get("etag"))


def write_file(
    container: str, name: str, path: str | Path, *, content_type: str, content_disposition: str
) -> str:
    """Write (or replace) a blob from a local file, streamed, with its serving headers."""
    file_path = Path(path)
    settings = ContentSettings(content_type=content_type, content_disposition=content_disposition)
    with file_path.open("rb") as stream, _translated_errors():
        result = _blob(container, name).upload_blob(
            stream, length=file_path.stat().st_size, overwrite=True, content_settings=settings
        )
    return _require_etag(result.get("etag"))


def delete_blob_version(container: str, name: str, *, etag: str) -> bool:
    """Delete a blob and every snapshot of it if it still has ``etag``; False when gone.

    A blob that changed meanwhile is BlobChanged and stays: its own event handles it.
    """
    with _translated_errors():
        try:
            _blob(container, name).delete_blob(delete_snapshots="include", **_pinned(etag))
        except ResourceNotFoundError:
            return False
    return True


def delete_blob_if_exists(container: str, name: str) -> bool:
    """Delete a blob and its snapshots; False when it was already gone."""
    with _translated_errors():
        try:
            _blob(container, name).delete_blob(delete_snapshots="include")
        except ResourceNotFoundError:
            return False
    return True


def list_blobs(container: str, prefix: str | None = None) -> Iterator[BlobRef]:
    """Yield the blobs of a container (optionally under ``prefix``), page by page."""
    client = _service().get_container_client(container)
    with _translated_errors():
        for item in client.list_blobs(name_starts_with=prefix):
            # Listings give the ETag bare, headers quoted: quote it so it pins like any other.
            etag = _require_etag(item.etag)
            quoted = etag if etag.startswith('"') else f'"{etag}"'
            yield BlobRef(
                name=item.name, etag=quoted, size=item.size, last_modified=item.last_modified
            )


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _service() -> BlobServiceClient:
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = _build_client(get_settings())
    return _client


UPLOAD_BLOCK_BYTES = 4 * 1024 * 1024


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


@contextmanager
def _client_for(connection_string: str | None) -> Iterator[BlobServiceClient]:
    """The process client, or a short-lived one for an explicit connection string."""
    if connection_string is None:
        yield _service()
        return
    client = BlobServiceClient.from_connection_string(connection_string)
    try:
        yield client
    finally:
        client.close()


def _blob(container: str, name: str) -> BlobClient:
    return _service().get_blob_client(container, name)


def _signed_url(
    settings: Settings,
    *,
    container: str,
    blob_name: str,
    permission: BlobSasPermissions,
    now: datetime,
    expires_at: datetime,
) -> str:
    client = _service()
    signing: dict[str, Any]
    if settings.AZURE_STORAGE_ACCOUNT_URL:
        signing = {"user_delegation_key": _user_delegation_key(client, valid_until=expires_at)}
    else:
        signing = {"account_key": client.credential.account_key}
    token = generate_blob_sas(
        account_name=client.account_name or "",
        container_name=container,
        blob_name=blob_name,
        permission=permission,
        start=now - CLOCK_SKEW,
        expiry=expires_at,
        protocol="https" if settings.is_production else None,
        **signing,
    )
    return f"{client.get_blob_client(container, blob_name).url}?{token}"


def _user_delegation_key(client: BlobServiceClient, *, valid_until: datetime) -> UserDelegationKey:
    global _delegation_key
    with _lock:
        now = _utcnow()
        cached = _delegation_key
        if cached is None or cached.expires_at <= max(
            now + DELEGATION_KEY_REFRESH_MARGIN, valid_until
        ):
            expires_at = now + DELEGATION_KEY_LIFETIME
            with _translated_errors():
                key = client.get_user_delegation_key(now - CLOCK_SKEW, expires_at)
            cached = _delegation_key = _DelegationKey(key=key, expires_at=expires_at)
        return cached.key


def _wait_for_copy(target: BlobClient) -> None:
    deadline = time.monotonic() + COPY_TIMEOUT_SECONDS
    while True:
        copy = target.get_blob_properties().copy
        if copy.status == "success":
            return
        if copy.status != "pending" or time.monotonic() > deadline:
            # The source is left untouched, so nothing is lost; the caller retries.
            raise StorageUnavailable(f"server-side copy ended as {copy.status!r}")
        time.sleep(COPY_POLL_SECONDS)


def _pinned(etag: str | None) -> dict[str, Any]:
    if etag is None:
        return {}
    return {"etag": etag, "match_condition": MatchConditions.IfNotModified}


def _require_etag(etag: object) -> str:
    if not isinstance(etag, str) or not etag:
        raise StorageUnavailable("storage answered without an ETag")
    return etag


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Map SDK errors to ours; messages carry status and code only, never URLs."""
    try:
        yield
    except ResourceModifiedError:
        raise BlobChanged("the blob was modified since it was read") from None
    except ResourceNotFoundError:
        raise BlobNotFound("the blob or container does not exist") from None
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise StorageUnavailable(f"storage unreachable ({type(exc).__name__})") from None
    except ClientAuthenticationError as exc:
        raise StorageUnavailable(f"storage refused our identity ({_describe(exc)})") from None
    except HttpResponseError as exc:
        if exc.status_code is not None and (exc.status_code >= 500 or exc.status_code == 403):
            raise StorageUnavailable(f"storage failed ({_describe(exc)})") from None
        raise


def _describe(exc: HttpResponseError) -> str:
    # The storage SDK adds error_code at run time; azure-core does not declare it.
    code = getattr(exc, "error_code", None)
    return f"status {exc.status_code}, code {code}"
