"""The upload processor: one decision per blob version, safe under at-least-once delivery.

For a new blob in the uploads container ``process_blob``:

1. finds the record from the blob name (``{owner_id}/{upload_id}``); a blob without
   one is quarantined as ``unknown_upload`` (or deleted, see 7);
2. claims the record for that blob version (ETag) in one atomic update; a version
   already handled, or being handled under a live lease, is left alone;
3. checks the real size (``too_large``, ``size_mismatch``), then streams the blob once,
   pinned to its ETag, into a temporary file while hashing it and feeding ClamAV
   (``malware``) so no parser touches unscanned bytes;
4. sniffs the real type from the first bytes (``type_mismatch``), then parses with
   limits (``too_large`` for pixel floods and oversized PDFs, ``corrupt``);
5. images: writes a metadata-free copy and a WebP thumbnail; PDFs: records page
   count, title and an excerpt and copies the checked bytes. The file is written to
   the files container (served with the sniffed Content-Type and an attachment
   Content-Disposition), which the upload URL cannot write and the trigger does not
   watch, so the processor's own writes never invoke it again; once the record is
   ready, the uploaded blob is deleted with every snapshot of it;
6. rejected blobs (snapshots dropped) move to the quarantine container, count
   against the owner's quota there and leave an ``upload.rejected`` audit event;
   transient failures raise for the host to retry, and the last attempt marks the
   record ``failed``;
7. a blob whose owner's account no longer exists (an upload URL used after the account
   was deleted) is deleted at once with its snapshots and leaves an ``upload.discarded``
   audit event: nothing an upload URL can create survives processing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from bson import ObjectId

from shared import clock, telemetry
from shared.config import Settings, get_settings
from shared.db.records import StoredRejection, UploadRecord
from shared.identity import SYSTEM
from shared.repositories import uploads as upload_records
from shared.repositories import users as user_records
from shared.schemas.uploads import RejectionReason
from shared.services import audit, media, scanning, storage
from shared.services.uploads import supported_types

logger = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 5
# Longer than one invocation may run (host.json functionTimeout is 5 minutes), so a
# live lease means another invocation is still at work; an expired one was abandoned.
LEASE = timedelta(minutes=6)
MAX_QUARANTINE_COPIES = 100
THUMBNAIL_CONTENT_TYPE = "image/webp"
DISCARDED_ACTION = "upload.discarded"
_BLOB_NAME = re.compile(r"(?P<owner_id>[0-9a-f]{24})/(?P<upload_id>[0-9a-f]{24})")


class Result(StrEnum):
    """What one delivery of a blob version led to."""

    READY = "ready"
    REJECTED = "rejected"
    FAILED = "failed"
    DUPLICATE = "duplicate"  # this version was already handled
    IN_PROGRESS = "in_progress"  # another invocation holds a live lease on it
    SUPERSEDED = "superseded"  # the blob changed; the newer version has its own event
    GONE = "gone"  # the blob (or its record) was deleted meanwhile
    DISCARDED = "discarded"  # its owner's account no longer exists: deleted, audited


@dataclass(frozen=True)
class ProcessingOutcome:
    """The result of ``process_blob`` for one delivery."""

    blob_name: str
    result: Result
    upload_id: str | None = None
    etag: str | None = None
    rejection_reason: RejectionReason | None = None


class UploadBusy(Exception):
    """Another version of the blob is being processed; retry this delivery later."""


@dataclass
class _Job:
    """One claimed record being processed for one blob version."""

    record: UploadRecord
    claim: str
    etag: str
    attempts: int
    max_attempts: int
    settings: Settings
    info: storage.BlobInfo | None  # the version's properties, if read before the claim

    @property
    def upload_id(self) -> ObjectId:
        oid: ObjectId = self.record["_id"]
        return oid

    @property
    def name(self) -> str:
        blob_name: str = self.record["blob_name"]
        return blob_name


@dataclass(frozen=True)
class _Received:
    """The blob as spooled to disk, with what was learnt while streaming it."""

    path: Path
    sha256: str
    head: bytes
    scan: str
    signature: str | None


@dataclass(frozen=True)
class _Rejection:
    """Why a blob version is refused, plus facts for the record and the audit log."""

    reason: RejectionReason
    fields: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


class _Rejected(Exception):
    def __init__(self, rejection: _Rejection) -> None:
        super().__init__(rejection.reason.value)
        self.rejection = rejection


def _span_attributes(outcome: ProcessingOutcome) -> dict[str, Any]:
    return {
        "blob.name": outcome.blob_name,
        "upload.id": outcome.upload_id,
        "upload.result": outcome.result.value,
        "upload.rejection_reason": outcome.rejection_reason,
    }


@telemetry.traced("upload.process", _span_attributes)
def process_blob(
    name: str,
    *,
    etag: str | None = None,
    attempt: int = 1,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> ProcessingOutcome:
    """Process one version of the uploads-container blob ``name`` (idempotent per ETag).

    ``etag`` pins the version the event announced (None: the current one).
    ``attempt`` is the host's try number; the record also counts tries, and the
    larger count decides when ``max_attempts`` is reached. Raises on transient
    failures before the last attempt, so the host retries.
    """
    settings = get_settings()
    etag = _quoted(etag)
    record = _record_for(name)
    if record is None:
        return _quarantine_stray(name, etag, settings)
    # The blob's properties are read at most once per delivery and passed on: here when
    # the trigger gave no ETag, otherwise by the step that first needs the size.
    info: storage.BlobInfo | None = None
    if etag is None:
        try:
            info = storage.blob_properties(settings.UPLOADS_CONTAINER, name)
        except storage.BlobNotFound:
            return _outcome(name, Result.GONE, record)
        etag = info.etag
    if etag in record.get("processed_etags", []):
        if record["status"] == upload_records.READY and record.get(upload_records.STORED_IN_FILES):
            _discard_uploaded(name, etag, settings)  # a retried clean-up (see below)
        return _outcome(name, Result.DUPLICATE, record, etag)
    if record["status"] in upload_records.TERMINAL_STATUSES:
        return _quarantine_stray(name, etag, settings, record=record, info=info)
    job = _claim(record, etag, info, attempt=attempt, max_attempts=max_attempts, settings=settings)
    if isinstance(job, ProcessingOutcome):
        return job
    outcome = _run(job)
    if outcome.result is Result.READY:
        # After the record is ready, so a failure here loses nothing: it raises, the host
        # delivers the event again, and the DUPLICATE branch above finishes the job.
        _discard_uploaded(name, etag, settings)
    return outcome


def _discard_uploaded(name: str, etag: str, settings: Settings) -> None:
    """Delete the uploaded blob version (and any snapshot of it) once its file is served."""
    with suppress(storage.BlobChanged):  # a newer version has its own event
        storage.delete_blob_version(settings.UPLOADS_CONTAINER, name, etag=etag)


def _record_for(name: str) -> UploadRecord | None:
    owner_id, upload_id = _ids_in(name)
    if owner_id is None or upload_id is None:
        return None
    return upload_records.find_by_id(ObjectId(upload_id), owner_id=owner_id)


@telemetry.traced("upload.claim")
def _claim(
    record: UploadRecord,
    etag: str,
    info: storage.BlobInfo | None,
    *,
    attempt: int,
    max_attempts: int,
    settings: Settings,
) -> _Job | ProcessingOutcome:
    """Take the record for this version, or say why this delivery has nothing to do."""
    processing = record.get("processing", {})
    same_version = processing.get("etag") == etag
    attempts = max((processing.get("attempts", 0) if same_version else 0) + 1, attempt)
    claim = secrets.token_hex(12)
    claimed = upload_records.claim_for_processing(
        record["_id"],
        previous_claim=processing.get("claim"),
        claim=claim,
        etag=etag,
        same_version=same_version,
        attempts=attempts,
        lease_until=clock.now() + LEASE,
    )
    if claimed is not None:
        return _Job(claimed, claim, etag, attempts, max_attempts, settings, info)
    # Someone changed the record since we read it: decide again on its new state.
    current = upload_records.find_by_id(record["_id"])
    name = record["blob_name"]
    if current is None:
        return _outcome(name, Result.GONE, record, etag)
    if etag in current.get("processed_etags", []):
        return _outcome(name, Result.DUPLICATE, current, etag)
    if current.get("processing", {}).get("etag") == etag:
        return _outcome(name, Result.IN_PROGRESS, current, etag)
    if attempt >= max_attempts:
        # The version being processed will settle the record; this one was most likely
        # written by the processor itself and is recorded when it finishes.
        _log("processing.busy_gave_up", name, etag)
        return _outcome(name, Result.IN_PROGRESS, current, etag)
    raise UploadBusy("another version of this upload is being processed")


def _run(job: _Job) -> ProcessingOutcome:
    """Process a claimed job, turning each kind of failure into its outcome or a retry."""
    try:
        return _decide(job)
    except storage.BlobChanged:
        upload_records.release_claim(job.upload_id, claim=job.claim, error="BlobChanged")
        return _outcome(job.name, Result.SUPERSEDED, job.record, job.etag)
    except storage.BlobNotFound:
        upload_records.release_claim(job.upload_id, claim=job.claim, error="BlobNotFound")
        return _outcome(job.name, Result.GONE, job.record, job.etag)
    except scanning.ScanLimitExceeded:
        # Retrying cannot help: clamd's StreamMaxLength is below UPLOAD_MAX_BYTES.
        return _fail(job, "ScanLimitExceeded")
    except Exception as exc:
        upload_records.release_claim(job.upload_id, claim=job.claim, error=type(exc).__name__)
        if job.attempts >= job.max_attempts:
            return _fail(job, type(exc).__name__)
        _log("processing.retry", job.name, job.etag, attempt=job.attempts, error=type(exc).__name__)
        raise


def _decide(job: _Job) -> ProcessingOutcome:
    rejection = job.record.get("processing", {}).get("rejection")
    if rejection is not None:
        # An earlier try decided but failed before the blob reached quarantine.
        return _complete_rejection(job, _rejection_from(rejection))
    try:
        return _process(job)
    except _Rejected as rejected:
        upload_records.note_rejection(
            job.upload_id, claim=job.claim, rejection=_rejection_document(rejected.rejection)
        )
        return _complete_rejection(job, rejected.rejection)


def _process(job: _Job) -> ProcessingOutcome:
    """Check, scan, sniff and parse the blob, then publish it or raise _Rejected."""
    settings = job.settings
    declared_type: str = job.record["content_type"]
    if declared_type not in supported_types(settings):
        raise _Rejected(_Rejection(RejectionReason.UNSUPPORTED_TYPE))
    info = job.info or storage.blob_properties(settings.UPLOADS_CONTAINER, job.name)
    if info.etag != job.etag:
        raise storage.BlobChanged("the blob was replaced after the event")
    if info.size > settings.UPLOAD_MAX_BYTES:
        raise _Rejected(_Rejection(RejectionReason.TOO_LARGE, details={"size": info.size}))
    if info.size != job.record["size_bytes"]:
        raise _Rejected(
            _Rejection(
                RejectionReason.SIZE_MISMATCH,
                details={"size": info.size, "declared_size": job.record["size_bytes"]},
            )
        )
    with tempfile.TemporaryDirectory(prefix="upload-") as workdir:
        received = _receive(job, info, Path(workdir))
        facts: dict[str, Any] = {"sha256": received.sha256, "scan": received.scan}
        if received.signature is not None:
            raise _Rejected(
                _Rejection(
                    RejectionReason.MALWARE,
                    fields=facts,
                    details={"signature": received.signature},
                )
            )
        detected = media.sniff_content_type(received.head)
        facts["detected_type"] = detected
        if detected != declared_type:
            raise _Rejected(
                _Rejection(
                    RejectionReason.TYPE_MISMATCH,
                    fields=facts,
                    details={"declared_type": declared_type, "detected_type": detected},
                )
            )
        try:
            if declared_type == "application/pdf":
                return _publish_pdf(job, received, facts)
            return _publish_image(job, received, facts, workdir)
        except media.MediaRejected as exc:
            raise _Rejected(
                _Rejection(RejectionReason(exc.reason), fields=facts, details={"problem": str(exc)})
            ) from None


@telemetry.traced("upload.receive")
def _receive(job: _Job, info: storage.BlobInfo, workdir: Path) -> _Received:
    """Stream the pinned blob version to disk once: hashing, sniff head and virus scan."""
    path = workdir / "original"
    digest = hashlib.sha256()
    head = bytearray()

    def chunks(out: Any) -> Iterator[bytes]:
        for chunk in storage.iter_blob_chunks(
            job.settings.UPLOADS_CONTAINER, job.name, etag=job.etag, size=info.size
        ):
            out.write(chunk)
            digest.update(chunk)
            if len(head) < media.SNIFF_BYTES:
                head.extend(chunk[: media.SNIFF_BYTES - len(head)])
            yield chunk

    scan, signature = "skipped", None
    with path.open("wb") as out:
        if scanning.scanning_enabled():
            verdict = scanning.scan_chunks(chunks(out))
            scan, signature = ("clean", None) if verdict.clean else ("infected", verdict.signature)
        else:
            for _ in chunks(out):
                pass
    return _Received(path, digest.hexdigest(), bytes(head), scan, signature)


@telemetry.traced("upload.publish_image")
def _publish_image(
    job: _Job, received: _Received, facts: dict[str, Any], workdir: str
) -> ProcessingOutcome:
    settings = job.settings
    image = media.process_image(str(received.path), out_dir=workdir)
    storage.write_file(
        settings.FILES_CONTAINER,
        job.name,
        image.stripped_path,
        content_type=image.content_type,
        content_disposition=media.content_disposition(job.record["filename"]),
    )
    storage.upload_bytes(
        settings.THUMBNAILS_CONTAINER, job.name, image.thumbnail, THUMBNAIL_CONTENT_TYPE
    )
    with open(image.stripped_path, "rb") as stripped:
        # The digest clients can check a download against: that of the file served.
        facts["sha256"] = hashlib.file_digest(stripped, "sha256").hexdigest()
    metadata = {"width": image.width, "height": image.height, "format": image.format}
    stored = Path(image.stripped_path).stat().st_size + len(image.thumbnail)
    return _finish_ready(job, stored, {**facts, "metadata": metadata, "thumbnail": True})


@telemetry.traced("upload.publish_pdf")
def _publish_pdf(job: _Job, received: _Received, facts: dict[str, Any]) -> ProcessingOutcome:
    pdf = media.inspect_pdf(str(received.path))
    # The very bytes that were scanned and parsed, from the spooled copy.
    storage.write_file(
        job.settings.FILES_CONTAINER,
        job.name,
        received.path,
        content_type="application/pdf",
        content_disposition=media.content_disposition(job.record["filename"]),
    )
    metadata = {"page_count": pdf.page_count, "title": pdf.title, "text_excerpt": pdf.text_excerpt}
    stored = received.path.stat().st_size
    return _finish_ready(job, stored, {**facts, "metadata": metadata, "thumbnail": False})


def _finish_ready(job: _Job, stored_bytes: int, fields: dict[str, Any]) -> ProcessingOutcome:
    finished = upload_records.finish_processing(
        job.upload_id,
        claim=job.claim,
        status=upload_records.READY,
        etags=[job.etag],
        fields={
            **fields,
            upload_records.STORED_BYTES: stored_bytes,
            upload_records.STORED_IN_FILES: True,
            "processed_at": clock.now(),
        },
    )
    if finished is None:
        _discard_orphans(job)
        return _outcome(job.name, Result.GONE, job.record, job.etag)
    _log("processing.ready", job.name, job.etag, stored_bytes=stored_bytes)
    return _outcome(job.name, Result.READY, finished, job.etag)


@telemetry.traced("upload.quarantine")
def _complete_rejection(job: _Job, rejection: _Rejection) -> ProcessingOutcome:
    """Quarantine the blob, settle the record and leave one audit event."""
    settings = job.settings
    # The move drops the blob's snapshots with it; the quarantined copy has none.
    storage.move_blob(settings.UPLOADS_CONTAINER, job.name, settings.QUARANTINE_CONTAINER)
    # What is really held for the owner now, whatever size was declared.
    held = storage.blob_properties(settings.QUARANTINE_CONTAINER, job.name).size
    finished = upload_records.finish_processing(
        job.upload_id,
        claim=job.claim,
        status=upload_records.REJECTED,
        etags=[job.etag],
        fields={
            **rejection.fields,
            "rejection_reason": rejection.reason.value,
            upload_records.QUARANTINED_BYTES: held,
            "processed_at": clock.now(),
        },
    )
    if finished is None:
        return _outcome(job.name, Result.GONE, job.record, job.etag)
    _audit_rejection(
        job.name,
        job.etag,
        rejection,
        upload_id=str(job.upload_id),
        owner_id=job.record["owner_id"],
        quarantined_as=job.name,
    )
    return _outcome(job.name, Result.REJECTED, finished, job.etag, rejection.reason)


def _fail(job: _Job, error: str) -> ProcessingOutcome:
    finished = upload_records.finish_processing(
        job.upload_id,
        claim=job.claim,
        status=upload_records.FAILED,
        etags=[job.etag],
        fields={"processing.last_error": error, "processed_at": clock.now()},
    )
    _log("processing.failed", job.name, job.etag, attempt=job.attempts, error=error)
    if finished is None:
        return _outcome(job.name, Result.GONE, job.record, job.etag)
    return _outcome(job.name, Result.FAILED, finished, job.etag)


def _quarantine_stray(
    name: str,
    etag: str | None,
    settings: Settings,
    *,
    record: UploadRecord | None = None,
    info: storage.BlobInfo | None = None,
) -> ProcessingOutcome:
    """A blob version nothing accounts for: keep it aside on its owner's quota, never serve it.

    Either no upload record matches the name (``record`` None), or ``record`` is settled
    and this is a new version of its blob (re-created after quarantine, or overwritten).
    Only when the owner's account is gone too is the version deleted instead.
    ``info`` is the version's properties if this delivery has read them already.
    """
    try:
        info = info or storage.blob_properties(settings.UPLOADS_CONTAINER, name)
    except storage.BlobNotFound:
        return _outcome(name, Result.GONE, record, etag)
    if etag is not None and info.etag != etag:
        return _outcome(name, Result.SUPERSEDED, record, etag)
    owner_id, upload_id = _ids_in(name)
    if record is None and owner_id is not None and user_records.find_by_id(owner_id) is None:
        return _discard_ownerless(name, info, settings, owner_id=owner_id, upload_id=upload_id)
    target = _free_quarantine_name(name, settings)
    storage.move_blob(settings.UPLOADS_CONTAINER, name, settings.QUARANTINE_CONTAINER, target)
    details: dict[str, Any] = {"size": info.size}
    if record is not None:
        upload_records.remember_etag(record["_id"], info.etag, quarantined_bytes=info.size)
        details |= {"unexpected_version": True, "status": record["status"]}
    elif owner_id is not None:  # an upload URL must never store bytes for free
        user_records.hold_orphan_bytes(owner_id, info.size)
    rejection = _Rejection(RejectionReason.UNKNOWN_UPLOAD, details=details)
    _audit_rejection(
        name, info.etag, rejection, upload_id=upload_id, owner_id=owner_id, quarantined_as=target
    )
    return _outcome(name, Result.REJECTED, record, info.etag, RejectionReason.UNKNOWN_UPLOAD)


def _discard_ownerless(
    name: str,
    info: storage.BlobInfo,
    settings: Settings,
    *,
    owner_id: str,
    upload_id: str | None,
) -> ProcessingOutcome:
    """Bytes PUT through an upload URL that outlived its owner's account: delete them now.

    Quarantine would hold them on no one's quota until retention purged them; with the
    account gone there is nobody to serve, review or charge them for.
    """
    try:
        deleted = storage.delete_blob_version(settings.UPLOADS_CONTAINER, name, etag=info.etag)
    except storage.BlobChanged:  # a newer version has its own event
        return ProcessingOutcome(name, Result.SUPERSEDED, etag=info.etag)
    if not deleted:  # another delivery got there first, and audited it
        return ProcessingOutcome(name, Result.GONE, etag=info.etag)
    details = {
        "reason": "owner_deleted",
        "blob_name": name,
        "etag": info.etag,
        "owner_id": owner_id,
        "size": info.size,
    }
    audit.record(DISCARDED_ACTION, caller=SYSTEM, target_id=upload_id, details=details)
    _log("processing.discarded", name, info.etag, reason="owner_deleted", size=info.size)
    return ProcessingOutcome(name, Result.DISCARDED, etag=info.etag)


def _ids_in(name: str) -> tuple[str | None, str | None]:
    """The owner and upload ids a server-issued blob name carries (None: not one of ours)."""
    match = _BLOB_NAME.fullmatch(name)
    return (match["owner_id"], match["upload_id"]) if match else (None, None)


def _free_quarantine_name(name: str, settings: Settings) -> str:
    """``name``, or ``name.N`` when earlier versions already sit in quarantine."""
    for copy in range(MAX_QUARANTINE_COPIES):
        candidate = name if copy == 0 else f"{name}.{copy}"
        try:
            storage.blob_properties(settings.QUARANTINE_CONTAINER, candidate)
        except storage.BlobNotFound:
            return candidate
    return f"{name}.{secrets.token_hex(8)}"


def _discard_orphans(job: _Job) -> None:
    """The record vanished mid-processing (deleted by its owner): drop what we wrote."""
    if upload_records.find_by_id(job.upload_id) is not None:
        return  # the claim was taken over; the new holder owns the blob now
    storage.delete_blob_if_exists(job.settings.UPLOADS_CONTAINER, job.name)
    storage.delete_blob_if_exists(job.settings.FILES_CONTAINER, job.name)
    storage.delete_blob_if_exists(job.settings.THUMBNAILS_CONTAINER, job.name)


def _audit_rejection(
    name: str,
    etag: str,
    rejection: _Rejection,
    *,
    upload_id: str | None,
    owner_id: str | None,
    quarantined_as: str,
) -> None:
    details = {
        "reason": rejection.reason.value,
        "blob_name": name,
        "etag": etag,
        "owner_id": owner_id,
        "quarantined_as": quarantined_as,
        **rejection.details,
    }
    if "scan" in rejection.fields:
        details["scan"] = rejection.fields["scan"]
    audit.record("upload.rejected", caller=SYSTEM, target_id=upload_id, details=details)
    _log("processing.rejected", name, etag, reason=rejection.reason.value)


def _rejection_document(rejection: _Rejection) -> dict[str, Any]:
    return {
        "reason": rejection.reason.value,
        "fields": rejection.fields,
        "details": rejection.details,
    }


def _rejection_from(document: StoredRejection) -> _Rejection:
    return _Rejection(
        RejectionReason(document["reason"]),
        fields=dict(document.get("fields") or {}),
        details=dict(document.get("details") or {}),
    )


def _outcome(
    name: str,
    result: Result,
    record: UploadRecord | None,
    etag: str | None = None,
    reason: RejectionReason | None = None,
) -> ProcessingOutcome:
    if record is None:  # a blob no upload record accounts for
        return ProcessingOutcome(name, result, None, etag, reason)
    if reason is None and record.get("rejection_reason") and result is Result.DUPLICATE:
        reason = RejectionReason(record["rejection_reason"])
    return ProcessingOutcome(name, result, str(record["_id"]), etag, reason)


def _quoted(etag: str | None) -> str | None:
    """ETags as response headers give them (quoted), whatever form the caller had."""
    if not etag:
        return None
    return etag if etag.startswith('"') else f'"{etag}"'


def _log(event: str, name: str, etag: str | None, **fields: Any) -> None:
    logger.info(json.dumps({"event": event, "blob_name": name, "etag": etag, **fields}))
