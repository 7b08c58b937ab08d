"""All access to the ``uploads`` collection.

A record's processing state lives in the record itself so every step is one atomic
update: ``processing`` holds the current claim (``claim`` id, blob ``etag``,
``attempts``, ``lease_until``) and ``processed_etags`` lists the blob versions that
need no further work (the one processed and the ones the processor wrote itself).
Updates made on behalf of a claim match on its id, so an invocation whose claim was
taken over can no longer change the record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from bson import ObjectId
from pymongo import ReturnDocument

from shared import clock
from shared.db import collections, names
from shared.db.records import TotalsRecord, UploadRecord
from shared.repositories import counters
from shared.repositories.pages import DocumentPage, find_page

PENDING = "pending"
PROCESSING = "processing"
READY = "ready"
REJECTED = "rejected"
FAILED = "failed"
TERMINAL_STATUSES = (READY, REJECTED, FAILED)
# Blob versions remembered per record; a handful at most are ever written.
MAX_PROCESSED_ETAGS = 20
# Bytes really stored for a record, set by processing: the served file and its
# thumbnail (ready), and every version kept in quarantine (rejected, or re-created).
STORED_BYTES: Final = "stored_bytes"
QUARANTINED_BYTES: Final = "quarantined_bytes"
# The served file lives in the files container (records processed before it existed
# are served from the uploads container).
STORED_IN_FILES: Final = "stored_in_files"
# What the dashboard totals need of a record's pre-image.
_COUNTED = {"status": 1, "size_bytes": 1}


def insert_upload(
    *,
    upload_id: ObjectId,
    owner_id: str,
    filename: str,
    content_type: str,
    size_bytes: int,
    blob_name: str,
    upload_expires_at: datetime,
    now: datetime,
) -> UploadRecord:
    """Create a pending upload record with a server-chosen id, created ``now``."""
    document: UploadRecord = {
        "_id": upload_id,
        "owner_id": owner_id,
        "filename": filename,
        "content_type": content_type,
        "size_bytes": size_bytes,
        "status": PENDING,
        "blob_name": blob_name,
        "upload_expires_at": upload_expires_at,
        "processed_etags": [],
        "created_at": now,
        "updated_at": now,
    }
    collections.uploads().insert_one(document)
    counters.add(counters.UPLOADS, counters.upload_share(None), counters.upload_share(document))
    return document


def find_by_id(upload_id: ObjectId, *, owner_id: str | None = None) -> UploadRecord | None:
    """The upload with this id, restricted to ``owner_id`` when given."""
    query: dict[str, Any] = {"_id": upload_id}
    if owner_id is not None:
        query["owner_id"] = owner_id
    return collections.uploads().find_one(query)


def list_uploads(
    *, owner_id: str | None, status: str | None, limit: int, cursor: str | None
) -> DocumentPage[UploadRecord]:
    """One page of uploads, newest first, optionally of one owner and one status."""
    query: dict[str, Any] = {}
    if owner_id is not None:
        query["owner_id"] = owner_id
    if status is not None:
        query["status"] = status
    return find_page(collections.uploads(), query, limit=limit, cursor=cursor)


def reserved_bytes(owner_id: str, *, pending_since: datetime) -> int:
    """Bytes that count against the owner's quota.

    A pending upload counts its declared size while its pending window is open (it
    was created after ``pending_since``), so an abandoned one stops holding quota; a
    processing or failed one (its blob is kept) its declared size; a ready one what
    is stored for it (the declared size for records from before that was kept).
    Whatever sits in quarantine for a record counts on top, at its real size, until
    it is deleted or purged.
    """
    open_pending = {
        "$and": [{"$eq": ["$status", PENDING]}, {"$gt": ["$created_at", pending_since]}]
    }
    held = {
        "$add": [
            {"$ifNull": [f"${QUARANTINED_BYTES}", 0]},
            {
                "$cond": [
                    {"$eq": ["$status", READY]},
                    {"$ifNull": [f"${STORED_BYTES}", "$size_bytes"]},
                    {
                        "$cond": [
                            {"$or": [{"$in": ["$status", [PROCESSING, FAILED]]}, open_pending]},
                            "$size_bytes",
                            0,
                        ]
                    },
                ]
            },
        ]
    }
    pipeline: list[dict[str, Any]] = [
        {"$match": {"owner_id": owner_id}},
        {"$group": {"_id": None, "bytes": {"$sum": held}}},
    ]
    # The rows of a $group are not upload records: the untyped accessor reads them.
    rows = list(collections.collection(names.UPLOADS).aggregate(pipeline))
    return int(rows[0]["bytes"]) if rows else 0


def delete_upload(upload_id: ObjectId) -> bool:
    """Remove one record; False when it was already gone."""
    removed = collections.uploads().find_one_and_delete({"_id": upload_id}, _COUNTED)
    if removed is None:
        return False
    counters.add(counters.UPLOADS, counters.upload_share(removed), counters.upload_share(None))
    return True


def find_for_owner(owner_id: str) -> list[UploadRecord]:
    return list(collections.uploads().find({"owner_id": owner_id}))


def delete_for_owner(owner_id: str) -> int:
    """Remove every record of the owner (one by one, so the totals learn what each was)."""
    ids = [doc["_id"] for doc in collections.uploads().find({"owner_id": owner_id}, {"_id": 1})]
    return sum(delete_upload(upload_id) for upload_id in ids)


def claim_for_processing(
    upload_id: ObjectId,
    *,
    previous_claim: str | None,
    claim: str,
    etag: str,
    same_version: bool,
    attempts: int,
    lease_until: datetime,
) -> UploadRecord | None:
    """Atomically take the record for processing ``etag``; None if someone else holds it.

    Succeeds only while the record is pending or processing, its claim is still
    ``previous_claim`` (what the caller read) and no live lease guards it. A rejection
    decided by an earlier try on the same version is kept (see ``note_rejection``).
    """
    now = clock.now()
    query: dict[str, Any] = {
        "_id": upload_id,
        "status": {"$in": [PENDING, PROCESSING]},
        "processing.claim": previous_claim,
        "$or": [
            {"processing.lease_until": None},
            {"processing.lease_until": {"$lte": now}},
        ],
    }
    update: dict[str, Any] = {
        "$set": {
            "status": PROCESSING,
            "processing.claim": claim,
            "processing.etag": etag,
            "processing.attempts": attempts,
            "processing.lease_until": lease_until,
            "processing.started_at": now,
            "updated_at": now,
        }
    }
    if not same_version:
        # A decision taken for another blob version does not carry over.
        update["$unset"] = {"processing.rejection": "", "processing.last_error": ""}
    # The pre-image tells a first claim (pending) from a retry, for the totals.
    before = collections.uploads().find_one_and_update(
        query, update, return_document=ReturnDocument.BEFORE
    )
    if before is None:
        return None
    claimed = counters.applied(before, update["$set"], update.get("$unset", {}))
    counters.add(counters.UPLOADS, counters.upload_share(before), counters.upload_share(claimed))
    return claimed


def note_rejection(upload_id: ObjectId, *, claim: str, rejection: dict[str, Any]) -> None:
    """Remember a rejection before acting on it, so a retry finishes it the same way."""
    collections.uploads().update_one(
        {"_id": upload_id, "processing.claim": claim},
        {"$set": {"processing.rejection": rejection, "updated_at": clock.now()}},
    )


def release_claim(upload_id: ObjectId, *, claim: str, error: str) -> bool:
    """Give up the lease after a failed try so a retry can claim the record at once."""
    result = collections.uploads().update_one(
        {"_id": upload_id, "processing.claim": claim},
        {
            "$set": {
                "processing.lease_until": None,
                "processing.last_error": error,
                "updated_at": clock.now(),
            }
        },
    )
    return result.modified_count == 1


def finish_processing(
    upload_id: ObjectId,
    *,
    claim: str,
    status: str,
    etags: list[str],
    fields: dict[str, Any],
) -> UploadRecord | None:
    """End the claim with a terminal ``status``; None when the claim was lost meanwhile."""
    finished = collections.uploads().find_one_and_update(
        {"_id": upload_id, "processing.claim": claim, "status": PROCESSING},
        {
            "$set": {
                **fields,
                "status": status,
                "processing.lease_until": None,
                "updated_at": clock.now(),
            },
            "$push": {"processed_etags": {"$each": etags, "$slice": -MAX_PROCESSED_ETAGS}},
        },
        return_document=ReturnDocument.AFTER,
    )
    if finished is not None:
        # The filter guarantees the record was processing; size_bytes is never changed here.
        counters.add(
            counters.UPLOADS,
            counters.upload_share({**finished, "status": PROCESSING}),
            counters.upload_share(finished),
        )
    return finished


def remember_etag(upload_id: ObjectId, etag: str, *, quarantined_bytes: int = 0) -> None:
    """Note a blob version as handled (and any bytes it left in quarantine)."""
    update: dict[str, Any] = {
        "$push": {"processed_etags": {"$each": [etag], "$slice": -MAX_PROCESSED_ETAGS}}
    }
    if quarantined_bytes:
        update["$inc"] = {QUARANTINED_BYTES: quarantined_bytes}
    collections.uploads().update_one({"_id": upload_id}, update)


def release_quarantined_bytes(upload_id: ObjectId, size: int) -> None:
    """A quarantined blob of this record was purged: it no longer counts (maintenance)."""
    collections.uploads().update_one(
        {"_id": upload_id, QUARANTINED_BYTES: {"$gte": size}},
        {"$inc": {QUARANTINED_BYTES: -size}, "$set": {"updated_at": clock.now()}},
    )


def stats(totals: TotalsRecord | None) -> dict[str, Any]:
    """The upload figures of the dashboard, from the maintained totals."""
    totals = totals or {"_id": counters.UPLOADS}  # none counted yet
    by_status = {name: int(n) for name, n in (totals.get("by_status") or {}).items() if n}
    return {
        "total": int(totals.get("total", 0)),
        "bytes": int(totals.get("bytes", 0)),
        "by_status": by_status,
    }
