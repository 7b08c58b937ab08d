"""Helpers that write stored records directly, for tests of what reads or counts them."""

from __future__ import annotations

from datetime import datetime, timedelta

from bson import ObjectId

from shared import clock
from shared.repositories import uploads as upload_records


def add_upload(
    owner_id: str,
    *,
    size: int = 20,
    now: datetime | None = None,
    filename: str = "b.png",
    content_type: str = "image/png",
) -> ObjectId:
    """Insert a pending upload record of ``size`` bytes for ``owner_id``; returns its id.

    The record is what ``POST /uploads`` writes, with its upload URL valid for 5 minutes
    from ``now`` (default: the app's clock).
    """
    now = now or clock.now()
    upload_id = ObjectId()
    upload_records.insert_upload(
        upload_id=upload_id,
        owner_id=owner_id,
        filename=filename,
        content_type=content_type,
        size_bytes=size,
        blob_name=f"{owner_id}/{upload_id}",
        upload_expires_at=now + timedelta(minutes=5),
        now=now,
    )
    return upload_id
