"""Blob operations, each pinned to the ETag of the version the caller decided on.

Reads stream in bounded ranged GETs; writes and deletes carry If-Match where a
concurrent overwrite must win, so a replaced blob is ``BlobChanged``, never mixed up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobClient, ContentSettings

from shared.services.storage.clients import blob_client, service
from shared.services.storage.errors import (
    StorageUnavailable,
    require_etag,
    translated_errors,
)
from shared.services.storage.sas import read_sas_url

CHUNK_SIZE = 4 * 1024 * 1024
COPY_POLL_SECONDS = 0.2
COPY_TIMEOUT_SECONDS = 300.0


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


def blob_properties(container: str, name: str) -> BlobInfo:
    """Size, ETag and content type of a blob; BlobNotFound if it is missing."""
    with translated_errors():
        props = blob_client(container, name).get_blob_properties()
    return BlobInfo(
        size=props.size,
        etag=require_etag(props.etag),
        content_type=props.content_settings.content_type,
    )


def iter_blob_chunks(
    container: str,
    name: str,
    *,
    etag: str | None = None,
    size: int | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """Stream a blob in ranged reads of ``chunk_size``, all pinned to one ETag.

    ``size`` is that of the ``etag`` version, when the caller has read it already: the
    stream then starts without reading the blob's properties a second time.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    if size is not None and etag is None:
        raise ValueError("size describes one version: pass its etag too")
    blob = blob_client(container, name)
    with translated_errors():
        if etag is None or size is None:
            props = blob.get_blob_properties(**_pinned(etag))
            etag, size = require_etag(props.etag), props.size
        pinned = _pinned(etag)
        for offset in range(0, size, chunk_size):
            length = min(chunk_size, size - offset)
            # One ranged GET per chunk keeps memory at chunk_size whatever the blob size;
            # the If-Match on each makes a concurrent overwrite fail instead of mixing.
            yield blob.download_blob(offset=offset, length=length, **pinned).readall()


def move_blob(
    src_container: str, name: str, dst_container: str, dst_name: str | None = None
) -> str:
    """Server-side copy then delete; the source goes only after the copy succeeded.

    Retrying a move that already completed is a no-op, so callers can simply retry.
    """
    source = blob_client(src_container, name)
    target = blob_client(dst_container, dst_name or name)
    with translated_errors():
        try:
            etag = require_etag(source.get_blob_properties().etag)
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
    with translated_errors():
        result = blob_client(container, name).upload_blob(
            data, overwrite=True, content_settings=ContentSettings(content_type=content_type)
        )
    return require_etag(result.get("etag"))


def write_file(
    container: str, name: str, path: str | Path, *, content_type: str, content_disposition: str
) -> str:
    """Write (or replace) a blob from a local file, streamed, with its serving headers."""
    file_path = Path(path)
    settings = ContentSettings(content_type=content_type, content_disposition=content_disposition)
    with file_path.open("rb") as stream, translated_errors():
        result = blob_client(container, name).upload_blob(
            stream, length=file_path.stat().st_size, overwrite=True, content_settings=settings
        )
    return require_etag(result.get("etag"))


def delete_blob_version(container: str, name: str, *, etag: str) -> bool:
    """Delete a blob and every snapshot of it if it still has ``etag``; False when gone.

    A blob that changed meanwhile is BlobChanged and stays: its own event handles it.
    """
    with translated_errors():
        try:
            blob_client(container, name).delete_blob(delete_snapshots="include", **_pinned(etag))
        except ResourceNotFoundError:
            return False
    return True


def delete_blob_if_exists(container: str, name: str) -> bool:
    """Delete a blob and its snapshots; False when it was already gone."""
    with translated_errors():
        try:
            blob_client(container, name).delete_blob(delete_snapshots="include")
        except ResourceNotFoundError:
            return False
    return True


def list_blobs(container: str, prefix: str | None = None) -> Iterator[BlobRef]:
    """Yield the blobs of a container (optionally under ``prefix``), page by page."""
    client = service().get_container_client(container)
    with translated_errors():
        for item in client.list_blobs(name_starts_with=prefix):
            # Listings give the ETag bare, headers quoted: quote it so it pins like any other.
            etag = require_etag(item.etag)
            quoted = etag if etag.startswith('"') else f'"{etag}"'
            yield BlobRef(
                name=item.name, etag=quoted, size=item.size, last_modified=item.last_modified
            )


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
