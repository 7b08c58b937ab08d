"""Uploads: records, their blobs and derived files.

Browsers PUT file bytes straight to Blob Storage with a create-only SAS for one
server-named blob (``{owner_id}/{upload_id}``); the API only hands out that SAS and,
once processing made the upload ``ready``, short read-only links. While an upload is
pending (``UPLOAD_PENDING_HOURS``) its owner's GET hands out a fresh SAS for the same
blob, so a client that lost the first answer can resume; no SAS outlives that window.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from bson import ObjectId

from shared import clock
from shared.config import Settings, get_settings
from shared.db.records import ImageFacts, PdfFacts, UploadRecord
from shared.errors import Forbidden, NotFound, ServiceUnavailable, ValidationFailed
from shared.identity import Caller, Principal
from shared.repositories import uploads as upload_records
from shared.repositories import users as user_records
from shared.repositories.ids import parse_id
from shared.schemas.uploads import (
    ImageMetadata,
    PdfMetadata,
    Upload,
    UploadCreate,
    UploadInstructions,
    UploadListQuery,
    UploadsPage,
)
from shared.services import audit

logger = logging.getLogger(__name__)

# The file name extensions each processable type may carry (lower case).
EXTENSIONS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/webp": (".webp",),
    "image/gif": (".gif",),
    "application/pdf": (".pdf",),
}
DOWNLOAD_URL_MINUTES = 5


def supported_types(settings: Settings) -> list[str]:
    """Allowed types the processor can actually check and parse."""
    return [kind for kind in settings.UPLOAD_ALLOWED_TYPES if kind in EXTENSIONS_BY_TYPE]


def create_upload(principal: Principal, payload: UploadCreate) -> Upload:
    """Record a pending upload and return the one-blob, create-only SAS to PUT it with."""
    from shared.services.storage import sas

    settings = get_settings()
    content_type = _checked_type(payload.content_type, settings)
    _check_extension(payload.filename, content_type)
    if payload.size_bytes > settings.UPLOAD_MAX_BYTES:
        raise _invalid(
            "size_bytes",
            f"Files are limited to {settings.UPLOAD_MAX_BYTES} bytes",
            code="file_too_large",
        )
    _check_quota(principal.user_id, payload.size_bytes, settings, already_recorded=False)
    upload_id = ObjectId()
    now = clock.now()
    pending_until = now + timedelta(hours=settings.UPLOAD_PENDING_HOURS)
    with storage_errors_as_503():
        target = sas.upload_sas(
            owner_id=principal.user_id,
            upload_id=str(upload_id),
            content_type=content_type,
            not_after=pending_until,
        )
    record = upload_records.insert_upload(
        upload_id=upload_id,
        owner_id=principal.user_id,
        filename=payload.filename,
        content_type=content_type,
        size_bytes=payload.size_bytes,
        blob_name=target.blob_name,
        upload_expires_at=target.expires_at,
        now=now,
    )
    try:
        # Checked again with this record in place: two uploads racing past the first
        # check both see each other here, so together they can never exceed the quota.
        _check_quota(principal.user_id, payload.size_bytes, settings, already_recorded=True)
    except ValidationFailed:
        upload_records.delete_upload(upload_id)
        raise
    instructions = UploadInstructions(
        url=target.url, headers=target.headers, expires_at=target.expires_at
    )
    return public_upload(record).model_copy(update={"upload": instructions})


def _check_quota(
    owner_id: str, size_bytes: int, settings: Settings, *, already_recorded: bool
) -> None:
    pending_since = clock.now() - timedelta(hours=settings.UPLOAD_PENDING_HOURS)
    reserved = upload_records.reserved_bytes(owner_id, pending_since=pending_since)
    reserved += user_records.orphan_bytes(owner_id)
    total = reserved if already_recorded else reserved + size_bytes
    if total > settings.UPLOAD_QUOTA_BYTES:
        in_use = reserved - size_bytes if already_recorded else reserved
        raise _invalid(
            "size_bytes",
            f"This upload would exceed your storage quota of {settings.UPLOAD_QUOTA_BYTES} "
            f"bytes ({in_use} in use)",
            code="quota_exceeded",
        )


def list_uploads(principal: Principal, query: UploadListQuery) -> UploadsPage:
    """The caller's uploads; admins may ask for one owner's or everyone's."""
    if (query.owner_id is not None or query.all) and not principal.is_admin:
        raise Forbidden("Only admins may list other users' uploads")
    owner_id: str | None = principal.user_id
    if query.owner_id is not None:
        owner_id = query.owner_id.lower()
    elif query.all:
        owner_id = None
    page = upload_records.list_uploads(
        owner_id=owner_id,
        status=query.status.value if query.status else None,
        limit=query.limit,
        cursor=query.cursor,
    )
    return UploadsPage(
        items=[public_upload(doc) for doc in page.documents], next_cursor=page.next_cursor
    )


def get_upload(principal: Principal, upload_id: str) -> Upload:
    """One upload with fresh links: download links when ready, upload URL while pending.

    Others' uploads are 404 (admins see them, but never their upload URL).
    """
    record = _visible(principal, upload_id)
    upload = public_upload(record)
    if record["status"] == upload_records.PENDING and record["owner_id"] == principal.user_id:
        instructions = _resume_instructions(record)
        return upload.model_copy(update={"upload": instructions}) if instructions else upload
    if record["status"] != upload_records.READY:
        return upload
    from shared.services.storage import clients, sas

    if not clients.storage_configured():
        return upload
    settings = get_settings()
    files = (
        settings.FILES_CONTAINER
        if record.get(upload_records.STORED_IN_FILES)
        else settings.UPLOADS_CONTAINER  # processed before the files container existed
    )
    with storage_errors_as_503():
        download_url = sas.read_sas_url(
            container=files,
            blob_name=record["blob_name"],
            minutes=DOWNLOAD_URL_MINUTES,
        )
        thumbnail_url = (
            sas.read_sas_url(
                container=settings.THUMBNAILS_CONTAINER,
                blob_name=record["blob_name"],
                minutes=DOWNLOAD_URL_MINUTES,
            )
            if record.get("thumbnail")
            else None
        )
    return upload.model_copy(update={"download_url": download_url, "thumbnail_url": thumbnail_url})


def _resume_instructions(record: UploadRecord) -> UploadInstructions | None:
    """A fresh create-only URL for a pending upload's blob; None once its window ended."""
    from shared.services.storage import sas

    pending_until = _pending_until(record, get_settings())
    # Less than a minute left is not worth a URL: the maintenance job expires it soon.
    if pending_until - clock.now() < timedelta(minutes=1):
        return None
    with storage_errors_as_503():
        target = sas.upload_sas(
            owner_id=record["owner_id"],
            upload_id=str(record["_id"]),
            content_type=record["content_type"],
            not_after=pending_until,
        )
    return UploadInstructions(url=target.url, headers=target.headers, expires_at=target.expires_at)


def _pending_until(record: UploadRecord, settings: Settings) -> datetime:
    """The end of the upload's pending window (when the maintenance job expires it)."""
    return record["created_at"] + timedelta(hours=settings.UPLOAD_PENDING_HOURS)


def delete_upload(principal: Principal, upload_id: str, *, caller: Caller) -> None:
    """Remove the blob, its derived files and the record; unknown or others' ids are 404."""
    record = _visible(principal, upload_id)
    _delete_blobs(record)
    upload_records.delete_upload(record["_id"])
    if record["owner_id"] != principal.user_id:
        audit.record(
            "upload.deleted",
            caller=caller,
            target_id=str(record["_id"]),
            details={"owner_id": record["owner_id"]},
        )


def delete_all_for_owner(owner_id: str) -> int:
    """Remove every upload of a user: blobs in every container first, then the records."""
    for record in upload_records.find_for_owner(owner_id):
        _delete_blobs(record)
    return upload_records.delete_for_owner(owner_id)


def public_upload(record: UploadRecord) -> Upload:
    """The client's view of a record (without links, which only get_upload signs)."""
    metadata = record.get("metadata")
    return Upload(
        id=str(record["_id"]),
        filename=record["filename"],
        content_type=record["content_type"],
        size_bytes=record["size_bytes"],
        status=record["status"],
        owner_id=record["owner_id"],
        created_at=record["created_at"],
        updated_at=record["updated_at"],
        sha256=record.get("sha256"),
        rejection_reason=record.get("rejection_reason"),
        metadata=_metadata(metadata) if metadata else None,
    )


@contextmanager
def storage_errors_as_503() -> Iterator[None]:
    """Storage outages and missing configuration answer 503, never 500."""
    from shared.services.storage import StorageUnavailable

    try:
        yield
    except StorageUnavailable as exc:
        logger.warning("storage unavailable: %s", exc)
        raise ServiceUnavailable("File storage is unavailable; retry shortly") from None


def _metadata(metadata: ImageFacts | PdfFacts) -> ImageMetadata | PdfMetadata:
    if "page_count" in metadata:
        return PdfMetadata.model_validate(metadata)
    return ImageMetadata.model_validate(metadata)


def _visible(principal: Principal, upload_id: str) -> UploadRecord:
    oid = parse_id(upload_id)
    owner = None if principal.is_admin else principal.user_id
    record = upload_records.find_by_id(oid, owner_id=owner) if oid else None
    if record is None:
        raise NotFound("No upload with this id")
    return record


def _delete_blobs(record: UploadRecord) -> None:
    """Delete the upload's blob, served file, thumbnail and every quarantined version."""
    from shared.services import storage
    from shared.services.storage import clients, sas

    if not clients.storage_configured():
        return
    settings = get_settings()
    name = sas.upload_blob_name(record["owner_id"], str(record["_id"]))
    with storage_errors_as_503():
        storage.delete_blob_if_exists(settings.UPLOADS_CONTAINER, name)
        storage.delete_blob_if_exists(settings.FILES_CONTAINER, name)
        storage.delete_blob_if_exists(settings.THUMBNAILS_CONTAINER, name)
        # Versions quarantined after the first carry a suffix; see upload_processing.
        for blob in storage.list_blobs(settings.QUARANTINE_CONTAINER, prefix=name):
            storage.delete_blob_if_exists(settings.QUARANTINE_CONTAINER, blob.name)


def _checked_type(content_type: str, settings: Settings) -> str:
    normalized = content_type.strip().lower()
    allowed = supported_types(settings)
    if normalized not in allowed:
        raise _invalid(
            "content_type",
            f"This file type is not accepted; allowed: {', '.join(allowed)}",
            code="unsupported_type",
        )
    return normalized


def _check_extension(filename: str, content_type: str) -> None:
    suffix = PurePosixPath(filename).suffix.lower()
    expected = EXTENSIONS_BY_TYPE[content_type]
    if suffix not in expected:
        raise _invalid(
            "filename",
            f"A {content_type} file name must end with {' or '.join(expected)}",
            code="extension_mismatch",
        )


def _invalid(field: str, message: str, *, code: str) -> ValidationFailed:
    return ValidationFailed(
        message, code=code, errors=[{"loc": ["body", field], "msg": message, "type": code}]
    )
