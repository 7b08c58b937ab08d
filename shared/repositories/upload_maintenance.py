"""Queries of the maintenance job on the ``uploads`` collection.

Every change is conditional on the state the job read, so a user's request (or a
second instance of the job) that changed the record meanwhile wins: the job's update
then matches nothing and the record is left alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from shared.db import collections
from shared.db.records import UploadRecord
from shared.repositories import counters
from shared.repositories.uploads import FAILED, PENDING, PROCESSING, REJECTED

# What the dashboard totals need of a deleted record.
_COUNTED = {"status": 1, "size_bytes": 1}


def _abandoned_pending(created_before: datetime, now: datetime) -> dict[str, Any]:
    # Both: older than the pending lifetime, and no upload URL handed out still works.
    return {
        "status": PENDING,
        "created_at": {"$lt": created_before},
        "upload_expires_at": {"$lte": now},
    }


def abandoned_pending(*, created_before: datetime, now: datetime, limit: int) -> list[UploadRecord]:
    """Pending uploads past their lifetime whose upload URL has expired, oldest first."""
    cursor = collections.uploads().find(_abandoned_pending(created_before, now))
    return list(cursor.sort("created_at", 1).limit(limit))


def delete_abandoned_pending(
    upload_id: ObjectId, *, created_before: datetime, now: datetime
) -> bool:
    """Delete one abandoned pending upload; False when it changed (or went) meanwhile."""
    query = {"_id": upload_id, **_abandoned_pending(created_before, now)}
    return _delete_counted(query)


def _stuck(now: datetime, idle_before: datetime) -> dict[str, Any]:
    # Its lease ran out (or was released after a failed try) and nothing touched it since.
    return {
        "status": PROCESSING,
        "$or": [{"processing.lease_until": None}, {"processing.lease_until": {"$lte": now}}],
        "updated_at": {"$lte": idle_before},
    }


def stuck_processing(*, now: datetime, idle_before: datetime, limit: int) -> list[UploadRecord]:
    """Records left in ``processing`` by an invocation that died or gave up, oldest first."""
    cursor = collections.uploads().find(_stuck(now, idle_before))
    return list(cursor.sort("updated_at", 1).limit(limit))


def fail_stuck(
    upload_id: ObjectId, *, now: datetime, idle_before: datetime, error: str
) -> UploadRecord | None:
    """Mark a stuck record ``failed``; None when it moved on meanwhile."""
    failed = collections.uploads().find_one_and_update(
        {"_id": upload_id, **_stuck(now, idle_before)},
        {
            "$set": {
                "status": FAILED,
                "processing.lease_until": None,
                "processing.last_error": error,
                "processed_at": now,
                "updated_at": now,
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    if failed is not None:  # the filter guarantees it was processing
        before: UploadRecord = {**failed, "status": PROCESSING}
        counters.add(counters.UPLOADS, counters.upload_share(before), counters.upload_share(failed))
    return failed


def expired_rejections(*, processed_before: datetime, limit: int) -> list[UploadRecord]:
    """Rejected uploads whose quarantine retention is over, oldest first."""
    cursor = collections.uploads().find(
        {"status": REJECTED, "processed_at": {"$lt": processed_before}}
    )
    return list(cursor.sort("processed_at", 1).limit(limit))


def delete_expired_rejection(upload_id: ObjectId, *, processed_before: datetime) -> bool:
    """Delete one rejected record past retention; False when it changed or went meanwhile."""
    query = {"_id": upload_id, "status": REJECTED, "processed_at": {"$lt": processed_before}}
    return _delete_counted(query)


def _delete_counted(query: dict[str, Any]) -> bool:
    """Delete the record ``query`` matches, and take it off the dashboard totals."""
    removed = collections.uploads().find_one_and_delete(query, _COUNTED)
    if removed is None:
        return False
    counters.add(counters.UPLOADS, counters.upload_share(removed), counters.upload_share(None))
    return True


def sweep_expired(collection: str, field: str, *, now: datetime) -> int:
    """Delete the documents of ``collection`` whose ``field`` is in the past."""
    return collections.collection(collection).delete_many({field: {"$lt": now}}).deleted_count
